//! The crate's shape, checked without running anything: its top-level modules form layers with no
//! cycle, each using only modules of lower layers, and no file under `src/` is longer than
//! [`MAX_LINES`].
//!
//! Every `.rs` file under `src/` is read; a file `src/a.rs`, `src/a/mod.rs` or `src/a/b.rs` belongs
//! to the top-level module `a` (`lib.rs` is the crate root and `main.rs` another crate, so neither
//! belongs to one). Its uses of other modules are the paths it names after `crate::`, in `use`
//! declarations (groups included) and inline alike; comments and string literals are skipped.

mod code;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use code::{crate_paths, strip};

/// The longest a hand-written file under `src/` may be.
const MAX_LINES: usize = 450;

/// The layers, lowest first. A module may use modules of lower layers only, never one of its own
/// layer or above. A new top-level module goes into the lowest layer its uses allow.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation: types and tools that need nothing else of the crate",
        &["model", "error", "auth", "activity", "proxy", "pki"],
    ),
    (
        "data: the store, alerts, fingerprints, the state file",
        &["data"],
    ),
    ("views: the JSON things are served as", &["views"]),
    ("the state every handler shares", &["shared"]),
    (
        "the APIs: GraphQL, REST, and demo traffic",
        &["graphql", "rest", "demo"],
    ),
    (
        "server: listener, TLS, WebSocket protocol, routes, faults",
        &["server"],
    ),
    ("handle: builder and DevServerHandle", &["handle"]),
    (
        "public faces: command-line arguments, the `store` re-exports",
        &["args", "store"],
    ),
];

#[test]
fn top_level_modules_have_no_cycle() {
    let (graph, _) = graph(&source_files());
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules under src/ use each other in a cycle: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn crate_paths_name_modules() {
    let (_, problems) = graph(&source_files());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn modules_use_only_lower_layers() {
    let (graph, _) = graph(&source_files());
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, (_, modules))| modules.iter().map(move |m| (*m, layer)))
        .collect();
    let mut problems = Vec::new();
    for (module, uses) in &graph {
        let Some(&layer) = layer_of.get(module.as_str()) else {
            problems.push(format!(
                "`{module}` is in no layer: add it to LAYERS in tests/layers.rs"
            ));
            continue;
        };
        for used in uses {
            match layer_of.get(used.as_str()) {
                Some(&below) if below < layer => {}
                Some(&other) => problems.push(format!(
                    "`{module}` ({}) uses `{used}` ({}), which is not in a lower layer",
                    LAYERS[layer].0, LAYERS[other].0
                )),
                None => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_file_is_longer_than_the_limit() {
    let too_long: Vec<String> = source_files()
        .iter()
        .filter(|file| !file.generated)
        .filter(|file| file.text.lines().count() > MAX_LINES)
        .map(|file| {
            format!(
                "{} has {} lines (at most {MAX_LINES}): split it by concept",
                file.path.display(),
                file.text.lines().count()
            )
        })
        .collect();
    assert!(too_long.is_empty(), "{}", too_long.join("\n"));
}

#[test]
fn a_cycle_is_named() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .fold(Graph::new(), |mut graph, (from, to)| {
            graph.entry(from.into()).or_default().insert(to.into());
            graph.entry(to.into()).or_default();
            graph
        });
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = graph.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
}

/// Top-level module to the top-level modules it uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

struct SourceFile {
    /// Relative to `src/`.
    path: PathBuf,
    text: String,
    generated: bool,
}

fn source_files() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    assert!(
        !files.is_empty(),
        "no source files under {}",
        root.display()
    );
    files
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            // Generated code lives in `generated/` folders and says so on its first line.
            let generated = relative.components().any(|c| c.as_os_str() == "generated")
                || text
                    .lines()
                    .next()
                    .is_some_and(|line| line.contains("@generated"));
            files.push(SourceFile {
                path: relative,
                text,
                generated,
            });
        }
    }
}

/// The top-level module a file belongs to, or none for the crate roots.
fn module_of(path: &Path) -> Option<String> {
    let first = path.components().next()?.as_os_str().to_str()?;
    if path.components().count() > 1 {
        return Some(first.to_owned());
    }
    let stem = first.strip_suffix(".rs")?;
    (stem != "lib" && stem != "main").then(|| stem.to_owned())
}

/// The graph between top-level modules, and the `crate::` paths whose first name is not a module
/// (an item `lib.rs` re-exports): those hide which module is used, so they are problems of their
/// own.
fn graph(files: &[SourceFile]) -> (Graph, Vec<String>) {
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&f.path)).collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    let mut problems = Vec::new();
    for file in files {
        let Some(module) = module_of(&file.path) else {
            continue;
        };
        for used in crate_paths(&strip(&file.text)) {
            if !modules.contains(&used) {
                problems.push(format!(
                    "{} uses `crate::{used}`, which is not a module: name the module that \
                     defines it",
                    file.path.display()
                ));
            } else if used != module {
                graph.get_mut(&module).unwrap().insert(used);
            }
        }
    }
    (graph, problems)
}

/// A cycle in `graph`, as the modules along it with the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        module: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(module.to_owned(), Mark::OnPath);
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let start = path.iter().position(|m| m == next).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(module.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in graph.keys() {
        if marks.get(module).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(cycle) = visit(module, graph, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}
