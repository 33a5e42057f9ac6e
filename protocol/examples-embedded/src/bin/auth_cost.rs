//! What the feature `auth` costs on a Cortex-M3: instructions to sign and to verify a signed
//! 212-byte event (the register request of the v0.0.1 captures) against decoding it, and
//! the stack it needs.
//!
//! Instructions are counted with QEMU's deterministic instruction counter: run with
//! `-icount shift=0`, each guest instruction advances the virtual clock by the same step, and
//! SysTick (core clock) counts that clock. A block of exactly 1000 `nop` run 1000 times
//! calibrates ticks per instruction. QEMU models no pipeline, wait states or multi-cycle
//! instructions, so these are instruction counts, not cycles; on silicon, cycles are higher
//! (multiplications, loads from flash with wait states).
//!
//! ```text
//! CARGO_TARGET_THUMBV7M_NONE_EABI_RUNNER="qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb \
//!   -nographic -semihosting-config enable=on,target=native -icount shift=0 -kernel" \
//!   cargo run --release --features auth --bin auth-cost
//! ```

#![no_std]
#![no_main]

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use uhome_protocol::auth::{
    sign_frame, verify_frame, KeyId, Nonce, ReplayCache, Signer, SigningKey, VerifyOptions,
    VerifyingKey,
};
use uhome_protocol::{Body, Envelope, Frame, RawJson, V2};

const ENV: Envelope<'static> = Envelope {
    id: "b8008832-cd09-412a-85c4-f0dfea705ed1",
    timestamp: "2026-11-28T22:17:50.481Z",
    source: "µHome/dummyService",
    event_type: "µHome.core.register",
};
const DATA: &str = r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}"#;
const NOW: u64 = 1_764_713_150_481;
const PAINT: u32 = 0xDEAD_BEEF;
const ROUNDS: u32 = 3;

extern "C" {
    static mut __sheap: u32;
    static _stack_start: u32;
}

/// SysTick ticks elapsed while `f` runs (at most 2^24 − 1).
fn ticks<T>(f: impl FnOnce() -> T) -> (u32, T) {
    SYST::get_current();
    let start = SYST::get_current();
    let out = f();
    let end = SYST::get_current();
    (start.wrapping_sub(end) & 0x00FF_FFFF, out)
}

#[inline(never)]
fn thousand_nops(times: u32) {
    for _ in 0..times {
        // SAFETY: no operands, no memory, no effects: 1000 instructions of doing nothing.
        unsafe { core::arch::asm!(".rept 1000", "nop", ".endr", options(nomem, nostack)) };
    }
}

#[entry]
fn main() -> ! {
    let floor = paint_stack();
    let Some(mut p) = cortex_m::Peripherals::take() else {
        exit(false, "peripherals taken twice");
    };
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(0x00FF_FFFF);
    p.SYST.clear_current();
    p.SYST.enable_counter();

    let (calibration, ()) = ticks(|| thousand_nops(1000));
    // Ticks per million instructions (the loop adds about 0.3 %).
    let per_mi = calibration.max(1);
    let instructions = |t: u32| u64::from(t) * 1_000_000 / u64::from(per_mi);

    let key = SigningKey::from_bytes(&[7; 32]);
    let public: VerifyingKey = key.verifying_key();
    let keys = [(KeyId::of(&public), public)];
    let data = match RawJson::parse(DATA) {
        Ok(data) => data,
        Err(_) => exit(false, "data"),
    };
    let mut plain = [0u8; 300];
    let Ok(m) = uhome_protocol::encode_event(&mut plain, V2, 1, &ENV, Body::Data(&data)) else {
        exit(false, "encode");
    };
    let Some((plain_frame, _)) = Frame::decode(plain.get(..m).unwrap_or_default()).complete()
    else {
        exit(false, "plain frame");
    };
    let (t_plain, plain_decoded) = ticks(|| plain_frame.request());
    if plain_decoded.is_err() {
        exit(false, "plain decode");
    }
    hprintln!(
        "unsigned frame {} bytes (payload {}): decode {} instructions",
        m,
        m - 5,
        instructions(t_plain)
    );
    let mut out = [0u8; 600];
    let mut cache = ReplayCache::<64>::new();
    let (mut sign_stack, mut verify_stack) = (0, 0);
    for round in 0..ROUNDS {
        let signer = Signer {
            key: &key,
            ts: NOW,
            nonce: Nonce([round as u8; 16]),
            aud: None,
            re: None,
        };
        let (floor, base) = (paint_stack(), in_use());
        let (t_sign, n) = ticks(|| sign_frame(&mut out, V2, 1, &ENV, Body::Data(&data), &signer));
        sign_stack = sign_stack.max(stack_used(floor) - base);
        let Ok(n) = n else { exit(false, "sign") };
        let Some((frame, _)) = Frame::decode(out.get(..n).unwrap_or_default()).complete() else {
            exit(false, "frame");
        };
        let (t_decode, decoded) = ticks(|| frame.request());
        if decoded.is_err() {
            exit(false, "decode");
        }
        let (floor, base) = (paint_stack(), in_use());
        let (t_verify, verified) =
            ticks(|| verify_frame(&frame, &keys, NOW, &mut cache, &VerifyOptions::default()));
        verify_stack = verify_stack.max(stack_used(floor) - base);
        if verified.is_err() {
            exit(false, "verify");
        }
        hprintln!(
            "round {}: signed frame {} bytes (payload {}); sign {} instructions, verify {}, decode {} (verify/decode {}, verify/unsigned decode {})",
            round,
            n,
            n - 5,
            instructions(t_sign),
            instructions(t_verify),
            instructions(t_decode),
            u64::from(t_verify) / u64::from(t_decode.max(1)),
            u64::from(t_verify) / u64::from(t_plain.max(1))
        );
    }
    hprintln!(
        "calibration: {} ticks per 10^6 instructions; stack high-water mark: whole run {} bytes, sign_frame {} bytes, verify_frame {} bytes (below the caller's frame)",
        per_mi,
        stack_used(floor),
        sign_stack,
        verify_stack
    );
    exit(true, "done");
}

fn paint_stack() -> usize {
    let floor = core::ptr::addr_of_mut!(__sheap) as usize;
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

/// Bytes of stack in use now.
fn in_use() -> usize {
    core::ptr::addr_of!(_stack_start) as usize - cortex_m::register::msp::read() as usize
}

fn stack_used(floor: usize) -> usize {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut at = floor;
    // SAFETY: reads of RAM between the statics and the stack top, all initialised above.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
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
