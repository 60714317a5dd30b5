//! Registers the project schema with cynic, so this crate's derives are checked against it.

fn main() {
    println!("cargo::rerun-if-changed=../../schema/incident-manager.graphql");
    cynic_codegen::register_schema("incident_manager")
        .from_sdl_file("../../schema/incident-manager.graphql")
        .expect("schema/incident-manager.graphql is readable")
        .as_default()
        .expect("schema/incident-manager.graphql is valid SDL");
}
