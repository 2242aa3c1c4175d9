//! Plans: the model, parsing (TOML or JSON, with positions), and validation.

pub mod model;
