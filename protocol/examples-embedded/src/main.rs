//! A µHome node on a Cortex-M3 with no heap: every vector of `spec/vectors` (compiled into
//! flash by `build.rs`) is streamed in 64-byte chunks through a `FrameBuffer`, its first
//! frame decoded and answered by the exchange core, and the reply frame encoded into a
//! static buffer and decoded again. Results go out over semihosting; the exit status says
//! whether every vector agreed. The stack is painted first and measured last.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use uhome_protocol::exchange::{answer_next, Answer, Immediate, Limits};
use uhome_protocol::reply::ReplyEnvelope;
use uhome_protocol::{Code, Decoded, Frame, FrameBuffer, Message, Next, HEADER_LEN};

/// The vectors, as `build.rs` writes them.
mod table {
    /// A piece of a vector's bytes.
    pub enum Seg {
        /// These bytes.
        Lit(&'static [u8]),
        /// The pattern, this many times.
        Rep(&'static [u8], usize),
    }

    /// What decoding the first frame gives.
    pub enum Decode {
        /// No whole frame.
        Incomplete,
        /// Longer than the node's limit: discarded.
        Oversized,
        /// An event or a version 1 text.
        Valid,
        /// Refused with this code.
        Invalid(&'static str),
        /// Either valid or refused with this code.
        Either(&'static str),
    }

    /// What the node answers.
    pub enum Expect {
        /// Nothing (no whole frame).
        Nothing,
        /// This status and code, decided by the bytes alone.
        Reply(u8, &'static str),
        /// A registry's or broker's event: dispatched (here: no handler).
        Dispatch,
        /// A reply the vector does not fix.
        Anything,
    }

    /// One vector.
    pub struct Vector {
        pub id: &'static str,
        pub stream: &'static [Seg],
        pub decode: Decode,
        pub reply: Expect,
    }

    include!(concat!(env!("OUT_DIR"), "/vectors.rs"));
}

use table::{Decode, Expect, Seg, Vector};

/// The least a conforming node accepts ([UH-FRAME-6]); the scanner's depth is the reference.
const LIMITS: Limits = Limits {
    max_payload: 4096,
    max_depth: 128,
};
/// The buffer holds one frame of the largest accepted payload.
const BUFFER: usize = HEADER_LEN + 4096;
/// Bytes pushed at a time, as a UART or TCP stack would hand them over.
const CHUNK: usize = 64;
/// Written over the free stack before the run.
const PAINT: u32 = 0xDEAD_BEEF;

const ENVELOPE: ReplyEnvelope<'static> = ReplyEnvelope {
    id: "00000000-0000-4000-8000-000000000001",
    timestamp: "1970-01-01T00:00:00.000Z",
    source: "embedded/lm3s6965",
};

/// What the node did with a vector's first frame.
#[derive(Clone, Copy)]
struct Seen {
    decoded: Result<(), Code>,
    oversized: bool,
    status: u8,
    code: Code,
    dispatched: bool,
}

extern "C" {
    /// End of `.bss`/`.data`: the lowest address the stack may reach (cortex-m-rt).
    static mut __sheap: u32;
    /// Top of the stack (cortex-m-rt).
    static _stack_start: u32;
}

#[entry]
fn main() -> ! {
    let floor = paint_stack();
    let buffer = cortex_m::singleton!(: FrameBuffer<BUFFER> = FrameBuffer::new());
    let out = cortex_m::singleton!(: [u8; 512] = [0; 512]);
    let (Some(buffer), Some(out)) = (buffer, out) else {
        exit(false, "buffers taken twice");
    };
    let mut failed = 0usize;
    let (mut replies, mut dispatched, mut oversized, mut nothing) = (0usize, 0, 0, 0);
    for vector in table::VECTORS {
        let seen = run(vector, buffer, out);
        match seen {
            Ok(Some(seen)) => {
                replies += 1;
                dispatched += usize::from(seen.dispatched);
                oversized += usize::from(seen.oversized);
            }
            Ok(None) => nothing += 1,
            Err(_) => {}
        }
        if let Err(why) = seen.and_then(|seen| agrees(vector, seen)) {
            failed += 1;
            hprintln!("FAIL {}: {}", vector.id, why);
        }
    }
    let high_water = stack_used(floor);
    hprintln!(
        "{} vectors: {} agree, {} fail; {} answered ({} dispatched to no handler, {} too_large from the header), {} with no whole frame",
        table::COUNT,
        table::COUNT - failed,
        failed,
        replies,
        dispatched,
        oversized,
        nothing
    );
    hprintln!(
        "stack high-water mark: {} bytes; static RAM: {} bytes (FrameBuffer<{}> and a 512-byte reply buffer)",
        high_water,
        static_ram(),
        BUFFER
    );
    exit(failed == 0 && table::COUNT > 0, "done");
}

/// Streams `vector` into the emptied buffer until the first frame (or oversized frame)
/// comes out, and answers it.
fn run(
    vector: &Vector,
    buffer: &mut FrameBuffer<BUFFER>,
    out: &mut [u8],
) -> Result<Option<Seen>, &'static str> {
    buffer.clear();
    let mut chunk = [0u8; CHUNK];
    for seg in vector.stream {
        match seg {
            Seg::Lit(bytes) => {
                for piece in bytes.chunks(CHUNK) {
                    if let Some(seen) = feed(buffer, piece, out)? {
                        return Ok(Some(seen));
                    }
                }
            }
            Seg::Rep(pattern, times) => {
                let total = pattern.len() * times;
                let mut at = 0;
                while at < total {
                    let n = CHUNK.min(total - at);
                    let mut source = pattern.iter().cycle().skip(at % pattern.len().max(1));
                    for slot in chunk.iter_mut().take(n) {
                        *slot = source.next().copied().unwrap_or(0);
                    }
                    let piece = chunk.get(..n).ok_or("chunk")?;
                    if let Some(seen) = feed(buffer, piece, out)? {
                        return Ok(Some(seen));
                    }
                    at += n;
                }
            }
        }
    }
    Ok(None)
}

/// Pushes `piece`; answers the first item the buffer yields.
fn feed(
    buffer: &mut FrameBuffer<BUFFER>,
    mut piece: &[u8],
    out: &mut [u8],
) -> Result<Option<Seen>, &'static str> {
    while !piece.is_empty() {
        let taken = buffer.push(piece);
        piece = piece.get(taken..).unwrap_or_default();
        if let Some(next) = buffer.pop() {
            return answer(next, out).map(Some);
        }
        if taken == 0 {
            return Err("the buffer takes nothing and yields nothing");
        }
    }
    Ok(None)
}

/// Decodes and answers one item; the reply is encoded into `out` and decoded again.
fn answer(next: Next<'_>, out: &mut [u8]) -> Result<Seen, &'static str> {
    let (decoded, oversized) = match next {
        Next::Frame(frame) => (frame.message().map(|_| ()).map_err(|e| e.code()), false),
        Next::Oversized(_) => (Err(Code::TooLarge), true),
    };
    let (reply, dispatched) = match answer_next(next, &LIMITS) {
        Answer::Reply(reply) => (reply, false),
        Answer::Dispatch { .. } => (Immediate::NoHandler, true),
    };
    let n = reply
        .encode(out, &ENVELOPE)
        .map_err(|_| "the reply does not fit")?;
    let Decoded::Complete(frame, used) = Frame::decode(out.get(..n).unwrap_or_default()) else {
        return Err("the reply is not a whole frame");
    };
    let Ok(Message::Event(event)) = frame.message() else {
        return Err("the reply is not an event");
    };
    let code = event
        .data
        .or(event.error)
        .and_then(|body| body.get("code"))
        .and_then(|code| code.as_string());
    if used != n || frame.version() != 2 || frame.status() != reply.status() {
        return Err("the reply frame's header is wrong");
    }
    if !code.is_some_and(|c| c.eq_str(reply.code().as_str())) {
        return Err("the reply's code is not the answer's");
    }
    Ok(Seen {
        decoded,
        oversized,
        status: frame.status(),
        code: reply.code(),
        dispatched,
    })
}

/// Whether what the node did is what the vector says.
fn agrees(vector: &Vector, seen: Option<Seen>) -> Result<(), &'static str> {
    let decode_ok = match (&vector.decode, seen) {
        (Decode::Incomplete, None) => true,
        (Decode::Oversized, Some(s)) => s.oversized,
        (Decode::Valid, Some(s)) => !s.oversized && s.decoded.is_ok(),
        (Decode::Invalid(code), Some(s)) => {
            !s.oversized && s.decoded.err().is_some_and(|c| c.as_str() == *code)
        }
        (Decode::Either(code), Some(s)) => {
            !s.oversized && s.decoded.err().is_none_or(|c| c.as_str() == *code)
        }
        _ => false,
    };
    if !decode_ok {
        return Err("decoded otherwise than the vector says");
    }
    let reply_ok = match (&vector.reply, seen) {
        (Expect::Nothing, None) => true,
        (Expect::Reply(status, code), Some(s)) => s.status == *status && s.code.as_str() == *code,
        (Expect::Dispatch, Some(s)) => s.dispatched,
        (Expect::Anything, Some(_)) => true,
        _ => false,
    };
    if reply_ok {
        Ok(())
    } else {
        Err("answered otherwise than the vector says")
    }
}

/// Paints the free stack below the current frame; returns the lowest stack address.
fn paint_stack() -> usize {
    let floor = core::ptr::addr_of_mut!(__sheap) as usize;
    // Leave the words just below this frame alone: the painting itself runs there.
    let top = cortex_m::register::msp::read() as usize - 64;
    let mut at = floor;
    while at + 4 <= top {
        // SAFETY: [floor, top) is RAM below the live stack and above every static; nothing
        // else uses it yet, and interrupts are not enabled.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
    floor
}

/// Bytes of stack ever used: from the top down to the lowest word no longer painted.
fn stack_used(floor: usize) -> usize {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut at = floor;
    // SAFETY: reads of RAM between the statics and the stack top, all initialised above.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
}

/// RAM taken by statics: `.data`, `.bss` and `.uninit`.
fn static_ram() -> usize {
    core::ptr::addr_of_mut!(__sheap) as usize - 0x2000_0000
}

fn exit(success: bool, why: &str) -> ! {
    if !success {
        hprintln!("FAILED: {}", why);
    }
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    exit(false, "panic");
}
