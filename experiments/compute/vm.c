/*
 * vm: indirect-call heavy interpreters (call_indirect through function tables).
 *
 * 1. A stack-based bytecode VM whose dispatch loop calls one handler per
 *    instruction through a table of function pointers. It runs three small
 *    programs: trial-division prime counting, an LCG-driven checksum loop and
 *    a recursive-style Fibonacci via an explicit call stack.
 * 2. A tree-walking evaluator where each expression node carries its own
 *    eval function pointer (the "vtable" pattern of object-oriented C),
 *    evaluated for many input values.
 *
 * argv[1]: work scale (default 600). Output: each program's result and the
 * number of instructions executed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

enum Op {
    OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_DIVU, OP_REMU, OP_LT,
    OP_EQ, OP_JMP, OP_JZ, OP_DUP, OP_DROP, OP_XOR, OP_SHR, OP_CALL, OP_RET, OP_HALT,
    OP_COUNT
};

typedef struct VM {
    const int32_t *code;
    int32_t pc;
    int32_t sp, fp, csp;
    int32_t stack[256];
    int32_t locals[64 * 8]; /* 8 locals per frame */
    int32_t calls[64];      /* return addresses */
    int running;
    uint64_t executed;
} VM;

typedef void (*Handler)(VM *);

static void op_push(VM *vm) { vm->stack[vm->sp++] = vm->code[vm->pc + 1]; vm->pc += 2; }
static void op_load(VM *vm) { vm->stack[vm->sp++] = vm->locals[vm->fp + vm->code[vm->pc + 1]]; vm->pc += 2; }
static void op_store(VM *vm) { vm->locals[vm->fp + vm->code[vm->pc + 1]] = vm->stack[--vm->sp]; vm->pc += 2; }
#define BINOP(name, expr)                                  \
    static void name(VM *vm) {                             \
        uint32_t b = (uint32_t)vm->stack[--vm->sp];        \
        uint32_t a = (uint32_t)vm->stack[vm->sp - 1];      \
        vm->stack[vm->sp - 1] = (int32_t)(expr);           \
        vm->pc += 1;                                       \
    }
BINOP(op_add, a + b)
BINOP(op_sub, a - b)
BINOP(op_mul, a * b)
BINOP(op_divu, b ? a / b : 0)
BINOP(op_remu, b ? a % b : 0)
BINOP(op_lt, (int32_t)a < (int32_t)b)
BINOP(op_eq, a == b)
BINOP(op_xor, a ^ b)
BINOP(op_shr, a >> (b & 31))
static void op_jmp(VM *vm) { vm->pc = vm->code[vm->pc + 1]; }
static void op_jz(VM *vm) { vm->pc = vm->stack[--vm->sp] ? vm->pc + 2 : vm->code[vm->pc + 1]; }
static void op_dup(VM *vm) { vm->stack[vm->sp] = vm->stack[vm->sp - 1]; vm->sp++; vm->pc += 1; }
static void op_drop(VM *vm) { vm->sp--; vm->pc += 1; }
/* CALL target: argument on the stack becomes local 0 of the new frame. */
static void op_call(VM *vm) {
    vm->calls[vm->csp++] = vm->pc + 2;
    vm->fp += 8;
    vm->locals[vm->fp] = vm->stack[--vm->sp];
    vm->pc = vm->code[vm->pc + 1];
}
static void op_ret(VM *vm) { vm->fp -= 8; vm->pc = vm->calls[--vm->csp]; }
static void op_halt(VM *vm) { vm->running = 0; }

static const Handler handlers[OP_COUNT] = {
    [OP_PUSH] = op_push, [OP_LOAD] = op_load, [OP_STORE] = op_store, [OP_ADD] = op_add,
    [OP_SUB] = op_sub,   [OP_MUL] = op_mul,   [OP_DIVU] = op_divu,   [OP_REMU] = op_remu,
    [OP_LT] = op_lt,     [OP_EQ] = op_eq,     [OP_JMP] = op_jmp,     [OP_JZ] = op_jz,
    [OP_DUP] = op_dup,   [OP_DROP] = op_drop, [OP_XOR] = op_xor,     [OP_SHR] = op_shr,
    [OP_CALL] = op_call, [OP_RET] = op_ret,   [OP_HALT] = op_halt,
};

/* Runs `code` with local 0 = arg and returns the value left on top of the stack. */
static int32_t vm_run(VM *vm, const int32_t *code, int32_t arg) {
    vm->code = code;
    vm->pc = vm->sp = vm->fp = vm->csp = 0;
    vm->locals[0] = arg;
    vm->running = 1;
    uint64_t n = 0;
    while (vm->running) {
        handlers[vm->code[vm->pc]](vm);
        n++;
    }
    vm->executed += n;
    return vm->stack[vm->sp - 1];
}

/* ---- a tiny assembler with forward labels, so jump targets are never hand-counted ---- */
#define MAX_CODE 256
#define MAX_LABELS 16
typedef struct {
    int32_t code[MAX_CODE];
    int32_t len;
    int32_t label_at[MAX_LABELS];
    int32_t fixup_pos[MAX_LABELS * 4], fixup_label[MAX_LABELS * 4], nfixups;
} Asm;

static void emit(Asm *a, int32_t op) { a->code[a->len++] = op; }
static void emit1(Asm *a, int32_t op, int32_t imm) { emit(a, op); emit(a, imm); }
/* A jump or call whose target label may not be placed yet. */
static void emit_to(Asm *a, int32_t op, int label) {
    emit(a, op);
    a->fixup_pos[a->nfixups] = a->len;
    a->fixup_label[a->nfixups++] = label;
    emit(a, -1);
}
static void place(Asm *a, int label) { a->label_at[label] = a->len; }
static const int32_t *finish(Asm *a) {
    for (int i = 0; i < a->nfixups; i++) a->code[a->fixup_pos[i]] = a->label_at[a->fixup_label[i]];
    return a->code;
}

/* Count primes below local0 by trial division. locals: 0=n 1=i 2=d 3=count 4=isprime */
static const int32_t *build_primes(Asm *a) {
    enum { OUTER, INNER, COMPOSITE, NEXT, DONE };
    emit1(a, OP_PUSH, 0); emit1(a, OP_STORE, 3);
    emit1(a, OP_PUSH, 2); emit1(a, OP_STORE, 1);
    place(a, OUTER); /* while i < n */
    emit1(a, OP_LOAD, 1); emit1(a, OP_LOAD, 0); emit(a, OP_LT); emit_to(a, OP_JZ, DONE);
    emit1(a, OP_PUSH, 1); emit1(a, OP_STORE, 4);
    emit1(a, OP_PUSH, 2); emit1(a, OP_STORE, 2);
    place(a, INNER); /* while d*d < i+1 */
    emit1(a, OP_LOAD, 2); emit(a, OP_DUP); emit(a, OP_MUL);
    emit1(a, OP_LOAD, 1); emit1(a, OP_PUSH, 1); emit(a, OP_ADD); emit(a, OP_LT);
    emit_to(a, OP_JZ, NEXT);
    emit1(a, OP_LOAD, 1); emit1(a, OP_LOAD, 2); emit(a, OP_REMU); emit_to(a, OP_JZ, COMPOSITE);
    emit1(a, OP_LOAD, 2); emit1(a, OP_PUSH, 1); emit(a, OP_ADD); emit1(a, OP_STORE, 2);
    emit_to(a, OP_JMP, INNER);
    place(a, COMPOSITE);
    emit1(a, OP_PUSH, 0); emit1(a, OP_STORE, 4);
    place(a, NEXT); /* count += isprime; i++ */
    emit1(a, OP_LOAD, 3); emit1(a, OP_LOAD, 4); emit(a, OP_ADD); emit1(a, OP_STORE, 3);
    emit1(a, OP_LOAD, 1); emit1(a, OP_PUSH, 1); emit(a, OP_ADD); emit1(a, OP_STORE, 1);
    emit_to(a, OP_JMP, OUTER);
    place(a, DONE);
    emit1(a, OP_LOAD, 3); emit(a, OP_HALT);
    return finish(a);
}

/* x = x*1103515245+12345; acc ^= x >> 7; local0 times. locals: 0=n 1=x 2=acc */
static const int32_t *build_lcg(Asm *a) {
    enum { LOOP, DONE };
    emit1(a, OP_PUSH, 1); emit1(a, OP_STORE, 1);
    emit1(a, OP_PUSH, 0); emit1(a, OP_STORE, 2);
    place(a, LOOP);
    emit1(a, OP_LOAD, 0); emit_to(a, OP_JZ, DONE);
    emit1(a, OP_LOAD, 1); emit1(a, OP_PUSH, 1103515245); emit(a, OP_MUL);
    emit1(a, OP_PUSH, 12345); emit(a, OP_ADD); emit(a, OP_DUP); emit1(a, OP_STORE, 1);
    emit1(a, OP_PUSH, 7); emit(a, OP_SHR); emit1(a, OP_LOAD, 2); emit(a, OP_XOR);
    emit1(a, OP_STORE, 2);
    emit1(a, OP_LOAD, 0); emit1(a, OP_PUSH, 1); emit(a, OP_SUB); emit1(a, OP_STORE, 0);
    emit_to(a, OP_JMP, LOOP);
    place(a, DONE);
    emit1(a, OP_LOAD, 2); emit(a, OP_HALT);
    return finish(a);
}

/* fib(n) = n < 2 ? n : fib(n-1) + fib(n-2), with real calls. locals: 0=n 1=partial */
static const int32_t *build_fib(Asm *a) {
    enum { FIB, RECURSE };
    emit1(a, OP_LOAD, 0); emit_to(a, OP_CALL, FIB); emit(a, OP_HALT);
    place(a, FIB);
    emit1(a, OP_LOAD, 0); emit1(a, OP_PUSH, 2); emit(a, OP_LT); emit_to(a, OP_JZ, RECURSE);
    emit1(a, OP_LOAD, 0); emit(a, OP_RET);
    place(a, RECURSE);
    emit1(a, OP_LOAD, 0); emit1(a, OP_PUSH, 1); emit(a, OP_SUB); emit_to(a, OP_CALL, FIB);
    emit1(a, OP_STORE, 1);
    emit1(a, OP_LOAD, 0); emit1(a, OP_PUSH, 2); emit(a, OP_SUB); emit_to(a, OP_CALL, FIB);
    emit1(a, OP_LOAD, 1); emit(a, OP_ADD); emit(a, OP_RET);
    return finish(a);
}

/* ---- tree-walking evaluator: each node dispatches through its own pointer ---- */
typedef struct Expr Expr;
struct Expr {
    int64_t (*eval)(const Expr *, const int64_t *vars);
    const Expr *a, *b, *c;
    int64_t k;
};
static int64_t ev_const(const Expr *e, const int64_t *v) { (void)v; return e->k; }
static int64_t ev_var(const Expr *e, const int64_t *v) { return v[e->k]; }
/* wrapping arithmetic: signed overflow would be undefined behaviour */
static int64_t ev_add(const Expr *e, const int64_t *v) {
    return (int64_t)((uint64_t)e->a->eval(e->a, v) + (uint64_t)e->b->eval(e->b, v));
}
static int64_t ev_mul(const Expr *e, const int64_t *v) {
    return (int64_t)((uint64_t)e->a->eval(e->a, v) * (uint64_t)e->b->eval(e->b, v));
}
static int64_t ev_mod(const Expr *e, const int64_t *v) {
    int64_t d = e->b->eval(e->b, v);
    return d ? e->a->eval(e->a, v) % d : 0;
}
static int64_t ev_if(const Expr *e, const int64_t *v) {
    return e->a->eval(e->a, v) ? e->b->eval(e->b, v) : e->c->eval(e->c, v);
}
static int64_t ev_lt(const Expr *e, const int64_t *v) { return e->a->eval(e->a, v) < e->b->eval(e->b, v); }

#define POOL 4096
static Expr pool[POOL];
static int pool_len;
static uint32_t seed = 7;
static const Expr *mk(int64_t (*f)(const Expr *, const int64_t *), const Expr *a, const Expr *b,
                      const Expr *c, int64_t k) {
    Expr *e = &pool[pool_len++];
    e->eval = f;
    e->a = a;
    e->b = b;
    e->c = c;
    e->k = k;
    return e;
}
/* A random expression over variables v0..v3 with bounded depth. */
static const Expr *random_expr(int depth) {
    seed = seed * 1664525u + 1013904223u;
    uint32_t r = seed >> 16;
    /* the top levels always branch, deeper ones stop early now and then */
    if (depth == 0 || pool_len > POOL - 64 || (depth < 7 && r % 6 == 0))
        return r & 1 ? mk(ev_var, 0, 0, 0, (r >> 1) & 3) : mk(ev_const, 0, 0, 0, (r >> 1) % 97 + 1);
    /* children are built in separate statements: argument evaluation order is
       unspecified in C, and gcc and clang really do differ */
    const Expr *x = random_expr(depth - 1);
    switch (r % 5) {
    case 0: {
        const Expr *y = random_expr(depth - 1);
        return mk(ev_add, x, y, 0, 0);
    }
    case 1: return mk(ev_mul, x, mk(ev_const, 0, 0, 0, (r >> 4) % 5 + 1), 0, 0);
    case 2: return mk(ev_mod, x, mk(ev_const, 0, 0, 0, (r >> 4) % 1000 + 7), 0, 0);
    case 3: {
        const Expr *y = random_expr(depth - 1);
        const Expr *cond = mk(ev_lt, x, y, 0, 0);
        const Expr *then = random_expr(depth - 1);
        const Expr *otherwise = random_expr(depth - 1);
        return mk(ev_if, cond, then, otherwise, 0);
    }
    default: return mk(ev_add, x, mk(ev_var, 0, 0, 0, r & 3), 0, 0);
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 600;
    if (scale < 1) scale = 1;
    static VM vm;

    static Asm asm_primes, asm_lcg, asm_fib;
    const int32_t *prog_primes = build_primes(&asm_primes);
    const int32_t *prog_lcg = build_lcg(&asm_lcg);
    const int32_t *prog_fib = build_fib(&asm_fib);

    int32_t primes = vm_run(&vm, prog_primes, 200 * scale);
    uint32_t lcg = (uint32_t)vm_run(&vm, prog_lcg, 15000 * scale);
    int fib_n = 16 + (scale >= 20) + (scale >= 80) + (scale >= 300) + (scale >= 600) + (scale >= 1200);
    int32_t fib = vm_run(&vm, prog_fib, fib_n);

    const Expr *tree = random_expr(10);
    uint64_t acc = 0;
    int64_t vars[4];
    for (int i = 0; i < 300 * scale; i++) {
        vars[0] = i;
        vars[1] = i * 7 % 1009;
        vars[2] = 5000 - i;
        vars[3] = (i ^ 0x55) & 0xFFF;
        acc = acc * 31 + (uint64_t)tree->eval(tree, vars);
    }

    printf("vm scale=%d\n", scale);
    printf("primes below %d: %d\n", 200 * scale, primes);
    printf("lcg checksum over %d steps: %08x\n", 15000 * scale, lcg);
    printf("fib(%d) = %d\n", fib_n, fib);
    printf("vm instructions executed: %llu\n", (unsigned long long)vm.executed);
    printf("expression nodes %d, checksum %016llx\n", pool_len, (unsigned long long)acc);
    return 0;
}
