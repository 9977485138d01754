//go:build amd64 && !purego

#include "textflag.h"

// A float32's exponent bits, its bits other than the sign, and zeros:
// what the subnormal flush compares and masks with.
DATA flushExpMask<>+0(SB)/8, $0x7f8000007f800000
DATA flushExpMask<>+8(SB)/8, $0x7f8000007f800000
DATA flushExpMask<>+16(SB)/8, $0x7f8000007f800000
DATA flushExpMask<>+24(SB)/8, $0x7f8000007f800000
GLOBL flushExpMask<>(SB), RODATA|NOPTR, $32

DATA flushMagnitude<>+0(SB)/8, $0x7fffffff7fffffff
DATA flushMagnitude<>+8(SB)/8, $0x7fffffff7fffffff
DATA flushMagnitude<>+16(SB)/8, $0x7fffffff7fffffff
DATA flushMagnitude<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL flushMagnitude<>(SB), RODATA|NOPTR, $32

DATA flushZero<>+0(SB)/8, $0
DATA flushZero<>+8(SB)/8, $0
DATA flushZero<>+16(SB)/8, $0
DATA flushZero<>+24(SB)/8, $0
GLOBL flushZero<>(SB), RODATA|NOPTR, $32

// FLUSH turns the lanes of x whose exponent bits are all zero (zeros and
// subnormals) into zeros of their sign, as flushSubnormal does; t is
// clobbered. t = x & exponent bits is +0 exactly in those lanes, so the
// equality compare marks them; x keeps only its sign bit there.
#define FLUSH(x, t) \
	VANDPS  flushExpMask<>(SB), x, t; \
	VCMPPS  $0, flushZero<>(SB), t, t; \
	VANDPS  flushMagnitude<>(SB), t, t; \
	VANDNPS x, t, x

// func adamAVX(w, grad, m, v *float32, n int, k *adamStep)
//
// Y8..Y15 hold the step's scalars in every lane. Per eight parameters,
// in adamGo's order: m' = β1·m + c1·g, v' = β2·v + (c2·g)·g, both
// flushed; den = √v' / √(1-β2^t) + ε; w' = decay·w − step·(m'/den).
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), CX
	MOVQ n+32(FP), BX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // decay
	VBROADCASTSS 4(AX), Y9   // beta1
	VBROADCASTSS 8(AX), Y10  // c1
	VBROADCASTSS 12(AX), Y11 // beta2
	VBROADCASTSS 16(AX), Y12 // c2
	VBROADCASTSS 20(AX), Y13 // sqrtBC2
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // step
	SHRQ $3, BX

loop:
	VMOVUPS (SI), Y1         // g
	VMULPS  (DX), Y9, Y2     // β1·m
	VMULPS  Y1, Y10, Y3      // c1·g
	VADDPS  Y3, Y2, Y2       // m'
	FLUSH(Y2, Y3)
	VMOVUPS Y2, (DX)
	VMULPS  Y1, Y12, Y3      // c2·g
	VMULPS  Y1, Y3, Y3       // (c2·g)·g
	VMULPS  (CX), Y11, Y4    // β2·v
	VADDPS  Y3, Y4, Y4       // v'
	FLUSH(Y4, Y5)
	VMOVUPS Y4, (CX)
	VSQRTPS Y4, Y4           // √v'
	VDIVPS  Y13, Y4, Y4      // / √(1-β2^t)
	VADDPS  Y14, Y4, Y4      // + ε: den
	VDIVPS  Y4, Y2, Y2       // m'/den
	VMULPS  Y2, Y15, Y2      // step·(m'/den)
	VMOVUPS (DI), Y0
	VMULPS  Y8, Y0, Y0       // decay·w
	VSUBPS  Y2, Y0, Y0       // w'
	VMOVUPS Y0, (DI)

	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, CX
	DECQ BX
	JNZ  loop

	VZEROUPPER
	RET

// SGDSTEP ends both of sgdAVX's loops: flush and store v' (Y0), then
// w' = w (Y2) − lr·v', and step to the next eight parameters.
#define SGDSTEP \
	FLUSH(Y0, Y1); \
	VMOVUPS Y0, (CX); \
	VMULPS  Y0, Y8, Y0; \
	VSUBPS  Y0, Y2, Y2; \
	VMOVUPS Y2, (DI); \
	ADDQ    $32, DI; \
	ADDQ    $32, SI; \
	ADDQ    $32, CX; \
	DECQ    BX

// func sgdAVX(w, grad, v *float32, n int, k *sgdStep)
//
// Y8..Y10 hold lr, μ and the weight decay in every lane. Per eight
// parameters, in sgdGo's order: v' = μ·v + g (g + wd·w with weight
// decay), flushed; w' = w − lr·v'. A zero weight decay takes the loop
// without the term, as sgdGo does.
TEXT ·sgdAVX(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ v+16(FP), CX
	MOVQ n+24(FP), BX
	MOVQ k+32(FP), AX
	VBROADCASTSS 0(AX), Y8  // lr
	VBROADCASTSS 4(AX), Y9  // mu
	VBROADCASTSS 8(AX), Y10 // wd
	SHRQ $3, BX
	MOVL 8(AX), DX
	SHLL $1, DX              // the weight decay's bits without the sign: 0 for ±0
	JNZ  decayloop

plainloop:
	VMOVUPS (DI), Y2         // w
	VMULPS  (CX), Y9, Y0     // μ·v
	VADDPS  (SI), Y0, Y0     // + g
	SGDSTEP
	JNZ plainloop
	VZEROUPPER
	RET

decayloop:
	VMOVUPS (DI), Y2         // w
	VMULPS  Y2, Y10, Y1      // wd·w
	VADDPS  (SI), Y1, Y1     // g + wd·w
	VMULPS  (CX), Y9, Y0     // μ·v
	VADDPS  Y1, Y0, Y0       // v'
	SGDSTEP
	JNZ decayloop
	VZEROUPPER
	RET
