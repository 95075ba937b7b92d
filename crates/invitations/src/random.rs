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

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}
