//! Registers the schema with cynic, so the derives in this crate are checked against it.

fn main() {
    // The same line a user's build script has: the SDL ships inside incident-schema.
    cynic_codegen::register_schema("incident_manager")
        .from_sdl(incident_schema::SDL)
        .expect("incident_schema::SDL is valid SDL")
        .as_default()
        .expect("the schema registers");
}
