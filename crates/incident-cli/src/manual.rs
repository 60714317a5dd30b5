//! `incident completions SHELL` and `incident man`: generated from the same clap definition as
//! the parser, so they cannot drift from it.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Prints SHELL's completion script for `incident` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    // Into memory first: clap_complete panics on a write error (such as a closed pipe).
    clap_complete::generate(shell, &mut command, "incident", &mut script);
    print(&script)
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

/// Prints `incident.1`, or writes it and a page per subcommand (`incident-watch.1`, ...) into
/// `dir`.
pub fn man(dir: Option<&Path>) -> Result<()> {
    // As clap_mangen::generate_to prepares it, so both ways write the same `incident.1`.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            print(&page)
        }
    }
}
