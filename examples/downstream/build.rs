//! Registers the Incident Manager schema for cynic's derives, and turns `graphql/*.graphql`
//! into `$OUT_DIR/ops.rs`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cynic_codegen::register_schema("incident_manager")
        .from_sdl(incident_schema::SDL)?
        .as_default()?;
    incident_codegen::build_script("graphql", "ops.rs")?;
    Ok(())
}
