//! Headless front end.
