//go:build amd64 && !purego

#include "textflag.h"

// func kernel4x8(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, k int)
//
// X0..X7 hold the 4×8 tile of C, two registers of four lanes per row;
// each lane is one element of C. Per step p: load B[p, j:j+8] into X8 and
// X9, broadcast A[i+r, p] and add the rounded products into row r. MULPS
// then ADDPS, never a fused operation, in increasing p: exactly the order
// of the Go code in gemm.go.
TEXT ·kernel4x8(SB), NOSPLIT, $0-56
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), R10
	SHLQ $2, R10             // row stride of C in bytes
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), R8
	SHLQ $2, R8              // row stride of A in bytes
	LEAQ (R8)(R8*2), R9      // three rows of A
	MOVQ b+32(FP), DX
	MOVQ ldb+40(FP), R11
	SHLQ $2, R11             // row stride of B in bytes
	MOVQ k+48(FP), CX
	XORPS X0, X0
	XORPS X1, X1
	XORPS X2, X2
	XORPS X3, X3
	XORPS X4, X4
	XORPS X5, X5
	XORPS X6, X6
	XORPS X7, X7

loop:
	MOVUPS (DX), X8
	MOVUPS 16(DX), X9
	ADDQ   R11, DX

	MOVSS  (SI), X10
	SHUFPS $0x00, X10, X10
	MOVAPS X10, X11
	MULPS  X8, X10
	MULPS  X9, X11
	ADDPS  X10, X0
	ADDPS  X11, X1

	MOVSS  (SI)(R8*1), X12
	SHUFPS $0x00, X12, X12
	MOVAPS X12, X13
	MULPS  X8, X12
	MULPS  X9, X13
	ADDPS  X12, X2
	ADDPS  X13, X3

	MOVSS  (SI)(R8*2), X10
	SHUFPS $0x00, X10, X10
	MOVAPS X10, X11
	MULPS  X8, X10
	MULPS  X9, X11
	ADDPS  X10, X4
	ADDPS  X11, X5

	MOVSS  (SI)(R9*1), X12
	SHUFPS $0x00, X12, X12
	MOVAPS X12, X13
	MULPS  X8, X12
	MULPS  X9, X13
	ADDPS  X12, X6
	ADDPS  X13, X7

	ADDQ $4, SI
	DECQ CX
	JNZ  loop

	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	ADDQ   R10, DI
	MOVUPS X2, (DI)
	MOVUPS X3, 16(DI)
	ADDQ   R10, DI
	MOVUPS X4, (DI)
	MOVUPS X5, 16(DI)
	ADDQ   R10, DI
	MOVUPS X6, (DI)
	MOVUPS X7, 16(DI)
	RET

// func kernel8x8avx(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, k int)
//
// The 8×8 tile of C at c from eight rows of A and eight columns of B whose
// rows are ldb floats apart: a panel of B (ldb 8, see gemm_panel.go) or B
// itself (gemmNN). Y0..Y7 hold the tile, one register of eight lanes per
// row. Per step p: load row p's eight values of B into Y8, broadcast
// A[i+r, p] and add the rounded products into row r: VMULPS then VADDPS,
// never fused, in increasing p, with the operands in the same roles as
// kernel4x8's MULPS and ADDPS. Eight-lane AVX arithmetic is the same IEEE
// operation per lane as SSE's four, so both kernels and the Go code give
// the same bits. Needs AVX (checked by the caller).
TEXT ·kernel8x8avx(SB), NOSPLIT, $0-56
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), R10
	SHLQ $2, R10             // row stride of C in bytes
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), R8
	SHLQ $2, R8              // row stride of A in bytes
	LEAQ (R8)(R8*2), R9      // three rows of A
	LEAQ (SI)(R8*4), BX      // row 4 of A
	MOVQ b+32(FP), DX
	MOVQ ldb+40(FP), R11
	SHLQ $2, R11             // row stride of B in bytes
	MOVQ k+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

avxloop:
	VMOVUPS (DX), Y8

	VBROADCASTSS (SI), Y9
	VMULPS       Y8, Y9, Y9
	VADDPS       Y9, Y0, Y0
	VBROADCASTSS (SI)(R8*1), Y10
	VMULPS       Y8, Y10, Y10
	VADDPS       Y10, Y1, Y1
	VBROADCASTSS (SI)(R8*2), Y11
	VMULPS       Y8, Y11, Y11
	VADDPS       Y11, Y2, Y2
	VBROADCASTSS (SI)(R9*1), Y12
	VMULPS       Y8, Y12, Y12
	VADDPS       Y12, Y3, Y3
	VBROADCASTSS (BX), Y13
	VMULPS       Y8, Y13, Y13
	VADDPS       Y13, Y4, Y4
	VBROADCASTSS (BX)(R8*1), Y14
	VMULPS       Y8, Y14, Y14
	VADDPS       Y14, Y5, Y5
	VBROADCASTSS (BX)(R8*2), Y15
	VMULPS       Y8, Y15, Y15
	VADDPS       Y15, Y6, Y6
	VBROADCASTSS (BX)(R9*1), Y9
	VMULPS       Y8, Y9, Y9
	VADDPS       Y9, Y7, Y7

	ADDQ R11, DX
	ADDQ $4, SI
	ADDQ $4, BX
	DECQ CX
	JNZ  avxloop

	VMOVUPS Y0, (DI)
	ADDQ    R10, DI
	VMOVUPS Y1, (DI)
	ADDQ    R10, DI
	VMOVUPS Y2, (DI)
	ADDQ    R10, DI
	VMOVUPS Y3, (DI)
	ADDQ    R10, DI
	VMOVUPS Y4, (DI)
	ADDQ    R10, DI
	VMOVUPS Y5, (DI)
	ADDQ    R10, DI
	VMOVUPS Y6, (DI)
	ADDQ    R10, DI
	VMOVUPS Y7, (DI)
	VZEROUPPER
	RET

// func transpose8avx(dst *float32, ldd int, src *float32, lds int, blocks int)
//
// Per block: load eight rows of eight floats into Y0..Y7, transpose them
// in registers (unpack pairs of rows, shuffle pairs of pairs, then swap
// 128-bit halves) and store the eight columns as rows of dst. Moves only:
// no arithmetic, so no rounding.
TEXT ·transpose8avx(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8              // row stride of dst in bytes
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9              // row stride of src in bytes
	MOVQ blocks+32(FP), CX
	LEAQ (R9)(R9*2), R10     // three rows of src
	LEAQ (R8)(R8*2), R11     // three rows of dst

tloop:
	MOVQ    SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R9*2), Y2
	VMOVUPS (AX)(R10*1), Y3
	LEAQ    (AX)(R9*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R9*1), Y5
	VMOVUPS (AX)(R9*2), Y6
	VMOVUPS (AX)(R10*1), Y7

	// rows a..h: Y8 = a0 b0 a1 b1 | a4 b4 a5 b5, Y9 = a2 b2 a3 b3 | a6 b6 a7 b7, …
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	// Y0 = a0 b0 c0 d0 | a4 b4 c4 d4, Y1 = a1 … | a5 …, …, Y4 = e0 f0 g0 h0 | e4 …
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	// column q of the block: low halves for q < 4, high halves for q >= 4
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	MOVQ    DI, BX
	VMOVUPS Y8, (BX)
	VMOVUPS Y9, (BX)(R8*1)
	VMOVUPS Y10, (BX)(R8*2)
	VMOVUPS Y11, (BX)(R11*1)
	LEAQ    (BX)(R8*4), BX
	VMOVUPS Y12, (BX)
	VMOVUPS Y13, (BX)(R8*1)
	VMOVUPS Y14, (BX)(R8*2)
	VMOVUPS Y15, (BX)(R11*1)

	ADDQ $32, SI             // the next eight columns of src
	LEAQ (DI)(R8*8), DI      // the next eight rows of dst
	DECQ CX
	JNZ  tloop

	VZEROUPPER
	RET

// func scaleBytesAVX2(dst *float32, src *uint8, n int, scale float32)
//
// Eight bytes at a time: widen to int32 (VPMOVZXBD), convert exactly to
// float32 (VCVTDQ2PS) and multiply by scale (VMULPS, rounded as Go's
// float32 multiply).
TEXT ·scaleBytesAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	VBROADCASTSS scale+24(FP), Y1

sloop:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y1, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  sloop

	VZEROUPPER
	RET
