//! Empty on purpose: this package exists for its `Cargo.toml`, which gives the
//! native build one feature set whether cargo builds one tool or the whole
//! test suite (a "workspace hack", written by hand).
