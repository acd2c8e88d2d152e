//! Our no_std `CodeSink` against dynasmrt's x64 assembler: the same `dynasm!` sequences, written
//! once generic over `Emitter`, must give byte-identical code (or both fail) — every label and
//! reference kind, directives, and many instruction forms with static and dynamic operands.

// dynasm! converts dynamic register operands with `u8::from(..)` even when they already are u8.
#![allow(clippy::useless_conversion)]

use dynasm::dynasm;
use kwasm_baseline::emit::{CodeSink, DynamicLabel, DynasmrtEmitter, EmitError, Emitter};

type Outcome = Result<Vec<u8>, EmitError>;

/// Runs a sequence on dynasmrt first (whose buffer address fixes the base for address-dependent
/// references), then on the sink placed at that same address; returns both results. The
/// sequence is `|ops, near| body`: `body` is expanded once per emitter type.
macro_rules! compare {
    (|$ops:ident, $near:ident| $body:expr) => {{
        let mut reference = DynasmrtEmitter::new().expect("dynasmrt assembler");
        let $near = reference.current_address();
        {
            let $ops = &mut reference;
            $body;
        }
        let theirs = reference.finish_with_address();
        let base = theirs.as_ref().map(|(_, address)| *address).unwrap_or(0);
        let mut sink = CodeSink::new(base);
        {
            let $ops = &mut sink;
            $body;
        }
        (theirs.map(|(code, _)| code), sink.finish())
    }};
    ($seq:ident) => {
        compare!(|ops, near| $seq(ops, near))
    };
}

fn assert_identical(name: &str, (theirs, ours): (Outcome, Outcome)) -> Vec<u8> {
    match (theirs, ours) {
        (Ok(theirs), Ok(ours)) => {
            assert!(!theirs.is_empty(), "{name}: empty sequence");
            assert_eq!(theirs, ours, "{name}: dynasmrt and the sink differ");
            ours
        }
        (theirs, ours) => panic!("{name}: expected code from both, dynasmrt {theirs:?}, sink {ours:?}"),
    }
}

fn assert_both_fail(name: &str, (theirs, ours): (Outcome, Outcome), expected: EmitError) {
    assert_eq!(theirs.err(), Some(expected.clone()), "{name}: dynasmrt");
    assert_eq!(ours.err(), Some(expected), "{name}: sink");
}

fn labels<E: Emitter>(ops: &mut E, n: usize) -> Vec<DynamicLabel> {
    (0..n).map(|_| ops.new_dynamic_label()).collect()
}

fn integer_forms<E: Emitter>(ops: &mut E, _near: usize) {
    dynasm!(ops
        ; .arch x64
        ; mov rax, rbx
        ; mov eax, 0x1234_5678
        ; mov rax, QWORD 0x1122_3344_5566_7788
        ; mov r15, QWORD -1
        ; mov r8d, -7
        ; mov rax, [rdi + 8]
        ; mov rax, [rdi + 0x1000]
        ; mov eax, [rsp]
        ; mov eax, [rbp]
        ; mov eax, [r12]
        ; mov eax, [r13]
        ; mov [rsi + rcx * 8 + 16], rdx
        ; mov [r9 + r10 * 4 - 0x80], r11d
        ; mov BYTE [rdi + rax], 7
        ; mov WORD [rdi + 2], 0x7fff
        ; mov DWORD [rdi + 4], -1
        ; mov QWORD [rdi + 8], 0x7fff_ffff
        ; movzx eax, BYTE [rdi]
        ; movzx eax, WORD [rdi + rsi * 2]
        ; movsx rax, BYTE [rdi]
        ; movsx eax, WORD [rdi]
        ; movsxd rax, DWORD [rdi + 4]
        ; movsxd rax, ecx
        ; lea rax, [rdi + rsi * 4 + 12]
        ; lea r10, [r11 + r12 * 8 - 3]
        ; add rax, 1
        ; add rax, 0x1000
        ; sub ecx, -128
        ; sub ecx, 127
        ; and rdx, rsi
        ; or r8, [r9 + 16]
        ; xor eax, eax
        ; cmp rax, -0x8000_0000
        ; cmp BYTE [rdi], 0
        ; test al, 1
        ; test rax, rcx
        ; shl rax, cl
        ; shr eax, 3
        ; sar r11, 63
        ; rol eax, cl
        ; ror rax, 1
        ; imul rax, rcx
        ; imul eax, ecx, 100
        ; imul rax, [rdi], 3
        ; cqo
        ; cdq
        ; idiv rcx
        ; div r8d
        ; neg rax
        ; not ecx
        ; inc DWORD [rdi]
        ; dec r12
        ; sete al
        ; setne r9b
        ; setl dil
        ; seta BYTE [rdi]
        ; cmovz rax, rcx
        ; cmovge r8d, [rdi]
        ; bsf rax, rcx
        ; bsr eax, ecx
        ; lzcnt rax, rcx
        ; tzcnt eax, [rdi]
        ; popcnt r10, r11
        ; bswap eax
        ; xchg rax, rcx
        ; push rbx
        ; push r15
        ; pop r15
        ; pop rbx
        ; push 0x10
        ; call rax
        ; call QWORD [rdi + 0x40]
        ; jmp r11
        ; ud2
        ; int3
        ; nop
        ; mfence
        ; ret
    );
}

fn float_forms<E: Emitter>(ops: &mut E, _near: usize) {
    dynasm!(ops
        ; .arch x64
        ; movsd xmm0, [rdi + 8]
        ; movsd [rsp + 16], xmm15
        ; movss xmm1, [rdi]
        ; movq xmm2, rax
        ; movq rax, xmm2
        ; movd xmm3, ecx
        ; movd ecx, xmm3
        ; addsd xmm0, xmm1
        ; subss xmm8, [rdi + rcx * 4]
        ; mulsd xmm9, xmm10
        ; divss xmm0, xmm7
        ; sqrtsd xmm0, xmm0
        ; minsd xmm1, xmm2
        ; maxss xmm1, xmm2
        ; ucomisd xmm0, xmm1
        ; comiss xmm3, [rdi]
        ; cvtsi2sd xmm0, rax
        ; cvtsi2ss xmm1, ecx
        ; cvttsd2si rax, xmm0
        ; cvttss2si ecx, xmm1
        ; cvtsd2ss xmm0, xmm1
        ; cvtss2sd xmm0, xmm1
        ; roundsd xmm0, xmm1, 3
        ; roundss xmm4, xmm5, 1
        ; andpd xmm0, xmm1
        ; xorps xmm2, xmm2
        ; orpd xmm3, [rdi]
        ; andnps xmm4, xmm5
        ; movaps xmm6, xmm7
        ; movapd xmm11, xmm12
        ; pxor xmm13, xmm14
        ; movups [rdi], xmm0
        ; ret
    );
}

/// Registers, immediates and displacements chosen at run time (the codegen's normal case).
fn dynamic_operands<E: Emitter>(ops: &mut E, _near: usize) {
    for dst in 0u8..16 {
        for src in [0u8, 3, 4, 5, 8, 12, 13, 15] {
            let imm = (i32::from(dst) - 8) * 0x1357;
            let disp = i32::from(src) * 40 - 200;
            dynasm!(ops
                ; .arch x64
                ; mov Rq(dst), Rq(src)
                ; mov Rd(dst), Rd(src)
                ; add Rq(dst), imm
                ; add Rq(dst), 5
                ; cmp Rd(dst), imm
                ; mov Rq(dst), QWORD [Rq(src) + disp]
                ; mov DWORD [Rq(dst) + Rq(5) * 4 + disp], Rd(src)
                ; lea Rq(dst), [Rq(src) + disp]
                ; mov Rb(dst), BYTE [Rq(src)]
                ; movzx Rd(dst), Rb(src)
                ; movsd Rx(dst), QWORD [Rq(src) + disp]
                ; addsd Rx(dst), Rx(src)
                ; movq Rx(dst), Rq(src)
                ; shl Rq(dst), dst as i8
                ; imul Rq(dst), Rq(src), imm
                ; mov Rq(dst), QWORD i64::from(imm) << 20
            );
        }
    }
    dynasm!(ops ; .arch x64 ; ret);
}

fn every_label_kind<E: Emitter>(ops: &mut E, _near: usize) {
    let dynamic = labels(ops, 4);
    dynasm!(ops
        ; .arch x64
        ; ->entry:
        ; jmp ->exit
        ; jmp =>dynamic[0]
        ; jmp >local
        ; jz BYTE >local
        ; jnz >local
        ; call =>dynamic[1]
        ; nop
        ; local:
        ; jmp <local
        ; jl BYTE <local
        ; lea rax, [->entry]
        ; lea rcx, [=>dynamic[2]]
        ; lea rdx, [>local]
        ; mov rax, [->data + 8]
        ; cmp DWORD [->data], 0x1234
        ; cmp BYTE [=>dynamic[3]], 7
        ; =>dynamic[0]
        ; jmp =>dynamic[3]
        ; local:
        ; jge <local
        ; jmp ->entry
        ; =>dynamic[1]
        ; ret
        ; =>dynamic[2]
        ; int3
        ; ->exit:
        ; ret
        ; .align 16
        ; ->data:
        ; .u64 0x1122_3344_5566_7788
        ; =>dynamic[3]
        ; .u32 0xdead_beef
        ; .rel32 ->entry
        ; .rel32 =>dynamic[0]
        ; .rel8 <local
        ; .rel16 ->exit
        ; .rel64 ->entry
        ; .rel32 ->entry + 8
        ; .rel32 =>(dynamic[1]) - 3
        ; .rel32 >next
        ; .i64 -5
        ; next:
        ; .i32 -5
        ; .i16 -5
        ; .i8 -5
        ; .u16 0xffff
        ; .u8 0x90
        ; .f32 1.5
        ; .f64 -2.25
        ; .align 8, 0xcc
        ; .bytes b"kwasm"
    );
}

/// References whose value depends on the code's address (absolute label addresses and
/// `extern` targets).
fn address_dependent<E: Emitter>(ops: &mut E, near: usize) {
    let target = near + 0x800;
    let dynamic = labels(ops, 1);
    dynasm!(ops
        ; .arch x64
        ; ->start:
        ; call extern target
        ; jmp extern target
        ; =>dynamic[0]
        ; .abs64 ->start
        ; .abs64 =>dynamic[0]
        ; .abs64 extern 0x1234_5678_9abc
        ; .abs32 extern 0x1234
        ; .rel64 extern target
        ; .rel32 extern target
        ; ret
    );
}

fn local_generations<E: Emitter>(ops: &mut E, _near: usize) {
    for i in 0..50 {
        dynasm!(ops
            ; .arch x64
            ; jmp >step
            ; add eax, i
            ; step:
            ; dec ecx
            ; jnz <step
            ; jmp BYTE >step
            ; nop
            ; step:
        );
    }
    dynasm!(ops ; .arch x64 ; ret);
}

fn patched<E: Emitter>(ops: &mut E, _near: usize) {
    let at = ops.offset();
    dynasm!(ops ; .arch x64 ; sub rsp, 0x7fff_ffff ; mov rax, rbx);
    ops.patch(at + 3, &0x1230_i32.to_le_bytes()).expect("patch inside the code");
    assert!(ops.patch(ops.offset() - 1, &[0, 0]).is_err(), "patch past the end must fail");
    dynasm!(ops ; .arch x64 ; ret);
}

/// A deterministic stream of mixed instructions with many dynamic labels and short/near jumps,
/// the shape of real compiled functions.
fn generated<E: Emitter>(ops: &mut E, seed: u64) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let blocks = labels(ops, 64);
    let mut defined = 0usize;
    for _ in 0..1500 {
        let r = next();
        let a = (r >> 8) as u8 & 15;
        let b = (r >> 12) as u8 & 15;
        let imm = (r >> 20) as i32;
        let label = blocks[(r >> 40) as usize % blocks.len()];
        match r % 14 {
            0 => dynasm!(ops ; .arch x64 ; mov Rq(a), Rq(b)),
            1 => dynasm!(ops ; .arch x64 ; add Rd(a), imm),
            2 => dynasm!(ops ; .arch x64 ; mov Rq(a), QWORD [Rq(b) + imm]),
            3 => dynasm!(ops ; .arch x64 ; cmp Rq(a), Rq(b) ; jl =>label),
            4 => dynasm!(ops ; .arch x64 ; jmp =>label),
            5 => dynasm!(ops ; .arch x64 ; call =>label),
            6 if defined < blocks.len() => {
                dynasm!(ops ; .arch x64 ; =>blocks[defined]);
                defined += 1;
            }
            7 => dynasm!(ops ; .arch x64 ; test Rd(a), Rd(b) ; jz BYTE >skip ; ud2 ; skip:),
            8 => dynasm!(ops ; .arch x64 ; lea Rq(a), [=>label]),
            9 => dynasm!(ops ; .arch x64 ; movsd Rx(a), [Rq(b) + Rq(a) * 8 + imm]),
            10 => dynasm!(ops ; .arch x64 ; mov Rq(a), QWORD i64::from(imm) * 0x1_0001),
            11 => dynasm!(ops ; .arch x64 ; .align 16),
            12 => dynasm!(ops ; .arch x64 ; shr Rq(a), cl),
            _ => dynasm!(ops ; .arch x64 ; cvtsi2sd Rx(a), Rq(b)),
        }
    }
    while defined < blocks.len() {
        dynasm!(ops ; .arch x64 ; =>blocks[defined] ; ret);
        defined += 1;
    }
}

#[test]
fn instruction_forms_are_identical() {
    let code = assert_identical("integer", compare!(integer_forms));
    assert_eq!(&code[..3], [0x48, 0x89, 0xd8], "mov rax, rbx");
    assert_identical("float", compare!(float_forms));
    assert_identical("dynamic operands", compare!(dynamic_operands));
}

#[test]
fn labels_and_references_are_identical() {
    let code = assert_identical("labels", compare!(every_label_kind));
    // The first instruction is `jmp ->exit` (e9 rel32): its target lies inside the code.
    assert_eq!(code[0], 0xe9);
    let rel = i32::from_le_bytes(code[1..5].try_into().unwrap());
    assert!(rel > 0 && (5 + rel as usize) < code.len());
    assert_identical("local generations", compare!(local_generations));
    assert_identical("address dependent", compare!(address_dependent));
    assert_identical("patched", compare!(patched));
}

#[test]
fn generated_streams_are_identical() {
    for seed in 1..=24u64 {
        assert_identical(&format!("seed {seed}"), compare!(|ops, _near| generated(ops, seed)));
    }
}

#[test]
fn both_reject_the_same_mistakes() {
    use kwasm_baseline::emit::LabelRef;
    fn undefined_global<E: Emitter>(ops: &mut E, _: usize) {
        dynasm!(ops ; .arch x64 ; jmp ->nowhere);
    }
    assert_both_fail(
        "undefined global",
        compare!(undefined_global),
        EmitError::UndefinedLabel(LabelRef::Global("nowhere")),
    );
    fn undefined_forward<E: Emitter>(ops: &mut E, _: usize) {
        dynasm!(ops ; .arch x64 ; here: ; jmp >here ; ret);
    }
    assert_both_fail(
        "forward past the last definition",
        compare!(undefined_forward),
        EmitError::UndefinedLabel(LabelRef::Local("here")),
    );
    fn backward_too_early<E: Emitter>(ops: &mut E, _: usize) {
        dynasm!(ops ; .arch x64 ; jmp <later ; later: ; ret);
    }
    assert_both_fail(
        "backward before definition",
        compare!(backward_too_early),
        EmitError::UndefinedLabel(LabelRef::Local("later")),
    );
    fn undefined_dynamic<E: Emitter>(ops: &mut E, _: usize) {
        let l = ops.new_dynamic_label();
        dynasm!(ops ; .arch x64 ; jmp =>l);
    }
    assert!(matches!(
        compare!(undefined_dynamic),
        (Err(EmitError::UndefinedLabel(_)), Err(EmitError::UndefinedLabel(_)))
    ));
    fn duplicate_global<E: Emitter>(ops: &mut E, _: usize) {
        dynasm!(ops ; .arch x64 ; ->twice: ; nop ; ->twice: ; ret);
    }
    assert_both_fail(
        "duplicate global",
        compare!(duplicate_global),
        EmitError::DuplicateLabel(LabelRef::Global("twice")),
    );
    fn duplicate_dynamic<E: Emitter>(ops: &mut E, _: usize) {
        let l = ops.new_dynamic_label();
        dynasm!(ops ; .arch x64 ; =>l ; nop ; =>l ; ret);
    }
    assert!(matches!(
        compare!(duplicate_dynamic),
        (Err(EmitError::DuplicateLabel(_)), Err(EmitError::DuplicateLabel(_)))
    ));
    fn short_jump_too_far<E: Emitter>(ops: &mut E, _: usize) {
        dynasm!(ops ; .arch x64 ; jmp BYTE ->far);
        for _ in 0..200 {
            dynasm!(ops ; .arch x64 ; nop);
        }
        dynasm!(ops ; .arch x64 ; ->far: ; ret);
    }
    assert_both_fail(
        "rel8 out of range",
        compare!(short_jump_too_far),
        EmitError::RelocationOutOfRange(LabelRef::Global("far")),
    );
    fn foreign_label<E: Emitter>(ops: &mut E, _: usize) {
        // A label created by another emitter: this one never handed out index 2.
        let mut other = CodeSink::new(0);
        let stranger = (0..3).map(|_| other.new_dynamic_label()).last().unwrap();
        dynasm!(ops ; .arch x64 ; =>stranger ; ret);
    }
    assert!(matches!(compare!(foreign_label), (Err(EmitError::UndefinedLabel(_)), Err(EmitError::UndefinedLabel(_)))));
    fn bad_descriptor<E: Emitter>(ops: &mut E, _: usize) {
        // Not something dynasm! emits: an architecture-specific encoding and a field before the
        // start of the code. Both must be errors, not panics.
        ops.push(0);
        ops.global_reloc("x", 0, 1, 1, 0x3f);
        ops.global_reloc("x", 0, 9, 9, 2);
    }
    assert!(matches!(
        compare!(bad_descriptor),
        (Err(EmitError::BadRelocation { .. }), Err(EmitError::BadRelocation { .. }))
    ));
}
