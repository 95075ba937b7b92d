//! Reading a type that is built only by its `parse` from a stored string,
//! without first copying the string: `String::deserialize` and then `parse`
//! allocated each id, address and name twice, and a list page reads several
//! in each of its 50 records.

use serde::de::{Deserializer, Error, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// `parse` applied to the string `d` holds; its error becomes `d`'s.
pub(crate) fn deserialize<'de, D, T, E>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    d.deserialize_str(Parsed(parse, PhantomData))
}

struct Parsed<F, T>(F, PhantomData<T>);

impl<T, E, F> Visitor<'_> for Parsed<F, T>
where
    E: fmt::Display,
    F: FnOnce(&str) -> Result<T, E>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<DE: Error>(self, v: &str) -> Result<T, DE> {
        (self.0)(v).map_err(DE::custom)
    }
}
