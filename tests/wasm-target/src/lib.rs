//! Nothing to link: this package holds `rustc-wrapper` (see its comments) and
//! the tests that run it against fake toolchains.
