//! grove demo.
