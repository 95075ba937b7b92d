//! Randomness as the domain sees it: handed in, so tests can seed it.

/// A source of cryptographically secure random bytes (tokens are made from it).
pub trait Random {
    fn fill(&self, buf: &mut [u8]);
}

pub(crate) fn bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut buf = [0u8; N];
    random.fill(&mut buf);
    buf
}

/// Lower-case hex, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}
