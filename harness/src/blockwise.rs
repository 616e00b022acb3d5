//! Block-wise transfer (RFC 7959), sans-IO: the state machines the CoAP endpoint
//! ([`crate::endpoint`]) uses, at both ends of the wire, to cut a body into blocks and put
//! it back together. They take decoded block options and payloads and say what to send next
//! or what completed.
//!
//! - [`Block1Assembly`]: the receiving side of a Block1 request (RFC 7959 §2.3): each
//!   non-final block is answered 2.31 Continue echoing its Block1 option, the final one
//!   yields the whole body (the harness's servers for a Register, BS-REG-01, or any other
//!   request of the client's own).
//! - [`Block2Fetch`]: the requesting side of a Block2 response (RFC 7959 §2.4): after a
//!   2.05 with Block2 M=1 it asks for block NUM=1, 2, ... with the size the server chose
//!   (the harness after a Bootstrap-Read, BS-READ-01, or a Discover, BS-DISC-01, answered
//!   block-wise; the reference client after a Bootstrap-Pack, BS-PACK-01).
//! - [`chunk`]: one block of a stored body, for the serving side of Block2 (RFC 7959 §2.4)
//!   and the sending side of Block1 (RFC 7959 §2.5).
//!
//! Every malformed or inconsistent block is a named [`BlockError`]; nothing here panics on
//! any input, and a body never grows past [`MAX_BODY`].
//!
//! The option values are coap-lite's [`BlockValue`] (encoding and decoding of NUM, M and
//! SZX, RFC 7959 §2.2). coap-lite's `BlockHandler` is not used: it is a server-side
//! interceptor keyed by method and path in a wall-clock LRU cache, it places an
//! out-of-order block at its offset and fills the gap with zeros rather than refusing it
//! (a conformance harness must name a gap, a size change or a number that does not
//! match), it has no requesting side for Block2, and it can panic (`expect`, `unwrap`) while
//! sizing a message. The state machines here are small and strict instead.

use coap_lite::block_handler::BlockValue;
use coap_lite::{CoapOption, Packet};
use std::fmt;

/// The largest body either side reassembles: 64 KiB (4096 blocks of 16 bytes, the most a
/// two-byte Block option can number).
pub const MAX_BODY: usize = 64 * 1024;

/// The largest block number this module encodes: a two-byte option value holds NUM < 4096.
const MAX_NUM: u16 = 0x0fff;

/// Why a block-wise transfer failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The Block1 or Block2 option could not be decoded (longer than this suite handles).
    Malformed {
        /// `Block1` or `Block2`.
        option: &'static str,
        /// What was wrong.
        why: String,
    },
    /// SZX 7 is reserved (RFC 7959 §2.2: it is BERT, only for reliable transports).
    ReservedSize {
        /// `Block1` or `Block2`.
        option: &'static str,
    },
    /// A block came whose number is not the next one: a gap, an out-of-order block, or a
    /// block number that does not match the one asked for.
    OutOfOrder {
        /// `Block1` or `Block2`.
        option: &'static str,
        /// The number expected.
        expected: u16,
        /// The number received.
        got: u16,
    },
    /// The block size changed in the middle of a transfer.
    SizeChanged {
        /// `Block1` or `Block2`.
        option: &'static str,
        /// The size so far, bytes.
        was: usize,
        /// The new size, bytes.
        now: usize,
    },
    /// A block other than the last did not carry exactly the block size (RFC 7959 §2.2).
    ShortBlock {
        /// `Block1` or `Block2`.
        option: &'static str,
        /// Its number.
        num: u16,
        /// Its payload length.
        len: usize,
        /// The block size.
        size: usize,
    },
    /// The body would exceed [`MAX_BODY`].
    TooLarge {
        /// `Block1` or `Block2`.
        option: &'static str,
        /// The size it would reach.
        size: usize,
    },
    /// A block was asked for beyond the end of the stored body.
    BeyondEnd {
        /// The number asked for.
        num: u16,
        /// The number of blocks the body has.
        blocks: usize,
    },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::Malformed { option, why } => {
                write!(f, "block-wise transfer: a malformed {option} option ({why})")
            }
            BlockError::ReservedSize { option } => write!(
                f,
                "block-wise transfer: {option} with the reserved SZX 7 (RFC 7959 §2.2)"
            ),
            BlockError::OutOfOrder {
                option,
                expected,
                got,
            } => write!(
                f,
                "block-wise transfer: {option} block {got} where block {expected} was due (a missing, out-of-order or mismatched block, RFC 7959 §2.3/§2.4)"
            ),
            BlockError::SizeChanged { option, was, now } => write!(
                f,
                "block-wise transfer: the {option} block size changed from {was} to {now} bytes in the middle of a transfer"
            ),
            BlockError::ShortBlock {
                option,
                num,
                len,
                size,
            } => write!(
                f,
                "block-wise transfer: {option} block {num} carries {len} bytes but is not the last, so it must carry the block size {size} (RFC 7959 §2.2)"
            ),
            BlockError::TooLarge { option, size } => write!(
                f,
                "block-wise transfer: the {option} body would reach {size} bytes, more than this harness reassembles ({MAX_BODY})"
            ),
            BlockError::BeyondEnd { num, blocks } => write!(
                f,
                "block-wise transfer: Block2 block {num} asked for, but the body has {blocks} blocks (RFC 7959 §2.4)"
            ),
        }
    }
}

fn name(which: CoapOption) -> &'static str {
    match which {
        CoapOption::Block1 => "Block1",
        _ => "Block2",
    }
}

/// The message's Block1 or Block2 option (`which`), if it carries one; its SZX is checked
/// (RFC 7959 §2.2).
pub fn block_of(p: &Packet, which: CoapOption) -> Result<Option<BlockValue>, BlockError> {
    let option = name(which);
    let Some(v) = p.get_first_option_as::<BlockValue>(which) else {
        return Ok(None);
    };
    let v = v.map_err(|e| BlockError::Malformed {
        option,
        why: format!(
            "{}; a block number of 4096 or more is beyond this harness's {MAX_BODY}-byte bound",
            e.message
        ),
    })?;
    if v.size_exponent > 6 {
        return Err(BlockError::ReservedSize { option });
    }
    Ok(Some(v))
}

/// Replaces the message's Block1 or Block2 option (`which`) by `v`.
pub fn set_block(p: &mut Packet, which: CoapOption, v: &BlockValue) {
    p.clear_option(which);
    // BlockValue's encoding shifts NUM by 4 within 16 bits: keep NUM below 4096.
    let v = BlockValue {
        num: v.num.min(MAX_NUM),
        more: v.more,
        size_exponent: v.size_exponent.min(6),
    };
    p.add_option_as(which, v);
}

/// The block value for block `num` of size `size` (a power of two from 16 to 1024; other
/// sizes round down to one), or `None` when `size` is below 16 or `num` above 4095.
pub fn block(num: usize, more: bool, size: usize) -> Option<BlockValue> {
    let size = size.clamp(0, 1024);
    let v = BlockValue::new(num, more, size).ok()?;
    (size >= 16 && v.num <= MAX_NUM).then_some(v)
}

/// Block `num` of `body` cut in blocks of `size_exponent`'s size: its Block option (M set
/// when more follow) and its bytes. For the serving side of Block2 and the sending side of
/// Block1 (RFC 7959 §2.4, §2.5). A body of zero bytes has one empty block.
pub fn chunk(body: &[u8], num: u16, size_exponent: u8) -> Result<(BlockValue, &[u8]), BlockError> {
    let size_exponent = size_exponent.min(6);
    let size = 1usize << (size_exponent + 4);
    let blocks = body.len().div_ceil(size).max(1);
    let start = usize::from(num) * size;
    if usize::from(num) >= blocks || num > MAX_NUM {
        return Err(BlockError::BeyondEnd { num, blocks });
    }
    let end = (start + size).min(body.len());
    let bytes = body.get(start..end).unwrap_or_default();
    Ok((
        BlockValue {
            num,
            more: end < body.len(),
            size_exponent,
        },
        bytes,
    ))
}

/// Checks one incoming block against what is due and appends it to `body`.
fn append(
    option: &'static str,
    body: &mut Vec<u8>,
    due: (u16, u8),
    got: &BlockValue,
    payload: &[u8],
) -> Result<(), BlockError> {
    let (expected, size_exponent) = due;
    if got.num != expected {
        return Err(BlockError::OutOfOrder {
            option,
            expected,
            got: got.num,
        });
    }
    if got.size_exponent != size_exponent {
        return Err(BlockError::SizeChanged {
            option,
            was: 1 << (size_exponent + 4),
            now: got.size(),
        });
    }
    let size = got.size();
    if (got.more && payload.len() != size) || payload.len() > size {
        return Err(BlockError::ShortBlock {
            option,
            num: got.num,
            len: payload.len(),
            size,
        });
    }
    let total = body.len() + payload.len();
    if total > MAX_BODY || (got.more && total >= MAX_BODY) {
        return Err(BlockError::TooLarge {
            option,
            size: total + usize::from(got.more),
        });
    }
    body.extend_from_slice(payload);
    Ok(())
}

/// What a Block1 block did to its transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assembled {
    /// More blocks follow: answer 2.31 Continue with this Block1 option (RFC 7959 §2.3).
    Continue(BlockValue),
    /// The last block came: the whole body, and the Block1 option the final response
    /// echoes (RFC 7959 §2.3).
    Complete(Vec<u8>, BlockValue),
}

/// The receiving side of one Block1 request body (RFC 7959 §2.3), blocks strictly in order
/// from NUM 0, one block size throughout.
#[derive(Clone, Debug, Default)]
pub struct Block1Assembly {
    /// The next block number and the SZX, once block 0 came.
    due: Option<(u16, u8)>,
    body: Vec<u8>,
}

impl Block1Assembly {
    /// Whether a transfer is under way (block 0 came, the last has not).
    pub fn in_progress(&self) -> bool {
        self.due.is_some()
    }

    /// Takes the next block. On an error the transfer is over (the state is reset).
    pub fn offer(&mut self, got: &BlockValue, payload: &[u8]) -> Result<Assembled, BlockError> {
        let due = self.due.unwrap_or((0, got.size_exponent));
        let result = append("Block1", &mut self.body, due, got, payload);
        if let Err(e) = result {
            *self = Block1Assembly::default();
            return Err(e);
        }
        if got.more {
            self.due = Some((got.num.saturating_add(1), got.size_exponent));
            Ok(Assembled::Continue(got.clone()))
        } else {
            let body = std::mem::take(&mut self.body);
            *self = Block1Assembly::default();
            Ok(Assembled::Complete(body, got.clone()))
        }
    }
}

/// The requesting side of one Block2 response body (RFC 7959 §2.4): started by a response
/// with Block2 NUM 0 and M set, fed each following block in order.
#[derive(Clone, Debug)]
pub struct Block2Fetch {
    due: (u16, u8),
    body: Vec<u8>,
}

/// What a Block2 block did to its transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// Ask for this block next (the request's Block2 option).
    Next(BlockValue),
    /// The last block came: the whole body.
    Complete(Vec<u8>),
}

impl Block2Fetch {
    /// Starts with the first response's block (it must be NUM 0); `None` as the second
    /// value when that block was the only one.
    pub fn start(got: &BlockValue, payload: &[u8]) -> Result<(Block2Fetch, Fetched), BlockError> {
        let mut f = Block2Fetch {
            due: (0, got.size_exponent),
            body: Vec::new(),
        };
        let next = f.offer(got, payload)?;
        Ok((f, next))
    }

    /// Takes the next block.
    pub fn offer(&mut self, got: &BlockValue, payload: &[u8]) -> Result<Fetched, BlockError> {
        append("Block2", &mut self.body, self.due, got, payload)?;
        if got.more {
            self.due = (got.num.saturating_add(1), got.size_exponent);
            Ok(Fetched::Next(BlockValue {
                num: self.due.0,
                more: false,
                size_exponent: self.due.1,
            }))
        } else {
            Ok(Fetched::Complete(std::mem::take(&mut self.body)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bv(num: u16, more: bool, szx: u8) -> BlockValue {
        BlockValue {
            num,
            more,
            size_exponent: szx,
        }
    }

    #[test]
    fn chunks_cover_the_body_and_say_when_more_follow() {
        let body: Vec<u8> = (0..40).collect();
        let (b0, c0) = chunk(&body, 0, 0).unwrap();
        assert_eq!((b0.more, c0.len()), (true, 16));
        let (b2, c2) = chunk(&body, 2, 0).unwrap();
        assert_eq!((b2.more, c2), (false, &body[32..]));
        assert_eq!(
            chunk(&body, 3, 0),
            Err(BlockError::BeyondEnd { num: 3, blocks: 3 })
        );
        let (e, c) = chunk(&[], 0, 0).unwrap();
        assert!(!e.more && c.is_empty());
        assert!(chunk(&body, u16::MAX, 7).is_err());
    }

    #[test]
    fn block1_reassembles_in_order_and_echoes() {
        let body: Vec<u8> = (0..=200u8).collect();
        let mut a = Block1Assembly::default();
        let mut num = 0;
        loop {
            let (v, bytes) = chunk(&body, num, 1).unwrap();
            match a.offer(&v, bytes).unwrap() {
                Assembled::Continue(echo) => {
                    assert_eq!(echo, v);
                    assert!(a.in_progress());
                }
                Assembled::Complete(got, echo) => {
                    assert_eq!(got, body);
                    assert!(!echo.more);
                    break;
                }
            }
            num += 1;
        }
        assert!(!a.in_progress());
    }

    #[test]
    fn block1_names_gaps_size_changes_and_short_blocks() {
        let mut a = Block1Assembly::default();
        a.offer(&bv(0, true, 0), &[0; 16]).unwrap();
        assert_eq!(
            a.offer(&bv(2, true, 0), &[0; 16]),
            Err(BlockError::OutOfOrder {
                option: "Block1",
                expected: 1,
                got: 2
            })
        );
        // The failed transfer is over: a new one starts at 0.
        assert!(!a.in_progress());
        assert!(matches!(
            a.offer(&bv(1, false, 0), &[0; 3]),
            Err(BlockError::OutOfOrder { expected: 0, .. })
        ));
        a.offer(&bv(0, true, 1), &[0; 32]).unwrap();
        assert!(matches!(
            a.offer(&bv(1, true, 0), &[0; 16]),
            Err(BlockError::SizeChanged {
                was: 32,
                now: 16,
                ..
            })
        ));
        assert!(matches!(
            a.offer(&bv(0, true, 0), &[0; 15]),
            Err(BlockError::ShortBlock { len: 15, .. })
        ));
        assert!(matches!(
            a.offer(&bv(0, false, 0), &[0; 17]),
            Err(BlockError::ShortBlock { len: 17, .. })
        ));
    }

    #[test]
    fn bodies_are_bounded() {
        let mut a = Block1Assembly::default();
        let mut err = None;
        for n in 0..=MAX_NUM {
            if let Err(e) = a.offer(&bv(n, true, 0), &[0; 16]) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(BlockError::TooLarge { .. })), "{err:?}");
        // Exactly MAX_BODY in 16-byte blocks ends at NUM 4095, which is allowed.
        let mut a = Block1Assembly::default();
        for n in 0..MAX_NUM {
            a.offer(&bv(n, true, 0), &[1; 16]).unwrap();
        }
        let Assembled::Complete(b, _) = a.offer(&bv(MAX_NUM, false, 0), &[1; 16]).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(b.len(), MAX_BODY);
    }

    #[test]
    fn block2_fetches_in_order_and_names_a_mismatch() {
        let body: Vec<u8> = (0..50).collect();
        let (b0, c0) = chunk(&body, 0, 0).unwrap();
        let (mut f, next) = Block2Fetch::start(&b0, c0).unwrap();
        assert_eq!(next, Fetched::Next(bv(1, false, 0)));
        let (b1, c1) = chunk(&body, 1, 0).unwrap();
        assert_eq!(f.offer(&b1, c1).unwrap(), Fetched::Next(bv(2, false, 0)));
        let (b3, c3) = chunk(&body, 3, 0).unwrap();
        assert!(matches!(
            f.offer(&b3, c3),
            Err(BlockError::OutOfOrder {
                option: "Block2",
                expected: 2,
                got: 3
            })
        ));
        let (b2, c2) = chunk(&body, 2, 0).unwrap();
        assert_eq!(f.offer(&b2, c2).unwrap(), Fetched::Next(bv(3, false, 0)));
        assert_eq!(f.offer(&b3, c3).unwrap(), Fetched::Complete(body));
        assert!(Block2Fetch::start(&bv(1, true, 0), &[0; 16]).is_err());
    }

    #[test]
    fn options_round_trip_and_bad_ones_are_named() {
        let mut p = Packet::new();
        assert_eq!(block_of(&p, CoapOption::Block2), Ok(None));
        set_block(&mut p, CoapOption::Block2, &bv(5, true, 2));
        let q = Packet::from_bytes(&p.to_bytes().unwrap()).unwrap();
        assert_eq!(block_of(&q, CoapOption::Block2), Ok(Some(bv(5, true, 2))));
        let mut p = Packet::new();
        p.add_option(CoapOption::Block1, vec![0x0f]);
        assert_eq!(
            block_of(&p, CoapOption::Block1),
            Err(BlockError::ReservedSize { option: "Block1" })
        );
        let mut p = Packet::new();
        p.add_option(CoapOption::Block1, vec![1, 2, 3]);
        assert!(matches!(
            block_of(&p, CoapOption::Block1),
            Err(BlockError::Malformed { .. })
        ));
        assert_eq!(block(0, true, 16), Some(bv(0, true, 0)));
        assert_eq!(block(0, true, 100), Some(bv(0, true, 2)));
        assert_eq!(block(0, true, 4096), Some(bv(0, true, 6)));
        assert_eq!(block(0, true, 8), None);
        assert_eq!(block(4096, true, 16), None);
    }
}
