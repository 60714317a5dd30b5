//! Registers the schema with cynic, so this crate's derives are checked against it. The SDL is
//! the crate's own copy (`incident-manager.graphql`, written by `cargo xtask codegen` from
//! `schema/incident-manager.graphql`), so the crate builds the same once packaged.

fn main() {
    println!("cargo::rerun-if-changed=incident-manager.graphql");
    cynic_codegen::register_schema("incident_manager")
        .from_sdl_file("incident-manager.graphql")
        .expect("incident-manager.graphql is readable")
        .as_default()
        .expect("incident-manager.graphql is valid SDL");
}
