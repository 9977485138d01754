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
