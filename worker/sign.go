package worker

import "github.com/ethereum/go-ethereum/crypto"

func cryptoSign(hash []byte, w *Worker) ([]byte, error) { return crypto.Sign(hash, w.deps.EthKey) }
