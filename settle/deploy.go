package settle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/gridswarm/gridswarm/settle/bindings"
)

// DeployParams configure a fresh set of settlement contracts.
type DeployParams struct {
	// Token is the ERC-20 jobs pay in; zero deploys a GridToken owned by
	// the deployer (local chains).
	Token common.Address
	// DisputeWindow is how long after a batch evidence may still arrive;
	// UnbondDelay, how long stake stays slashable after an unstake request.
	// UnbondDelay must be longer than DisputeWindow.
	DisputeWindow, UnbondDelay time.Duration
	// BountyBps is the reporter's share of a slashed stake, in 1/10000.
	BountyBps uint16
}

// DefaultDeployParams: a day to dispute, a week to unbond, 10% bounty.
func DefaultDeployParams() DeployParams {
	return DeployParams{DisputeWindow: 24 * time.Hour, UnbondDelay: 7 * 24 * time.Hour, BountyBps: 1000}
}

func (p DeployParams) validate() error {
	switch {
	case p.DisputeWindow < time.Second:
		return fmt.Errorf("dispute window %v is under a second; use at least 1s", p.DisputeWindow)
	case p.UnbondDelay <= p.DisputeWindow:
		return fmt.Errorf("unbond delay %v must be longer than the dispute window %v, or a worker could leave before evidence against it lands", p.UnbondDelay, p.DisputeWindow)
	case p.BountyBps > 10_000:
		return fmt.Errorf("bounty %d bps is over 10000 (100%%)", p.BountyBps)
	}
	return nil
}

// Deploy deploys the settlement contracts as auth.From and returns their
// addresses. GridToken (when deployed), JobEscrow (which creates the
// Registry) and WorkerStake are sent one after another, each confirmed.
func Deploy(ctx context.Context, chain Chain, auth *bind.TransactOpts, p DeployParams) (Addresses, error) {
	var a Addresses
	if err := p.validate(); err != nil {
		return a, fmt.Errorf("cannot deploy settlement contracts: %w", err)
	}
	abi := newContracts()
	dec := newErrorDecoders(abi)
	deploy := func(name, bin string, ctor []byte) (common.Address, *types.Receipt, error) {
		opts := &bind.TransactOpts{From: auth.From, Signer: auth.Signer, Context: ctx}
		code, err := hexutil.Decode(bin)
		if err != nil {
			return common.Address{}, nil, fmt.Errorf("deploy %s: bad bytecode in bindings: %w", name, err)
		}
		addr, tx, err := bind.DeployContract(opts, code, chain, ctor)
		if err != nil {
			return common.Address{}, nil, dec.asRevert("deploy "+name, err)
		}
		rec, err := chain.Confirm(ctx, tx.Hash())
		if err != nil {
			return common.Address{}, nil, fmt.Errorf("deploy %s: waiting for %s: %w", name, tx.Hash(), err)
		}
		if rec.Status != types.ReceiptStatusSuccessful {
			return common.Address{}, rec, fmt.Errorf("deploy %s: transaction %s failed", name, tx.Hash())
		}
		return addr, rec, nil
	}
	var err error
	a.Token = p.Token
	if a.Token == (common.Address{}) {
		if a.Token, _, err = deploy("GridToken", bindings.GridTokenMetaData.Bin, abi.token.PackConstructor(auth.From)); err != nil {
			return a, err
		}
	}
	if a.Escrow, _, err = deploy("JobEscrow", bindings.JobEscrowMetaData.Bin, nil); err != nil {
		return a, err
	}
	escrow := abi.escrow.Instance(chain, a.Escrow)
	a.Registry, err = bind.Call(escrow, &bind.CallOpts{Context: ctx}, abi.escrow.PackRegistry(), abi.escrow.UnpackRegistry)
	if err != nil {
		return a, fmt.Errorf("deploy: cannot read the registry the escrow created: %w", err)
	}
	ctor := abi.stake.PackConstructor(a.Token, uint64(p.DisputeWindow/time.Second), uint64(p.UnbondDelay/time.Second), p.BountyBps)
	if a.Stake, _, err = deploy("WorkerStake", bindings.WorkerStakeMetaData.Bin, ctor); err != nil {
		return a, err
	}
	return a, nil
}

// Verify checks that each address in a holds code (a configuration that
// points at another chain, or at a chain that was reset, fails here).
func (a Addresses) Verify(ctx context.Context, chain Chain) error {
	var errs []error
	for _, c := range []struct {
		name string
		addr common.Address
	}{{"token", a.Token}, {"escrow", a.Escrow}, {"registry", a.Registry}, {"stake", a.Stake}} {
		code, err := chain.CodeAt(ctx, c.addr, nil)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s %s: %w", c.name, c.addr, err))
		case len(code) == 0:
			errs = append(errs, fmt.Errorf("%s %s: no contract there on chain %v: deploy the contracts or fix the address", c.name, c.addr, chain.ChainID()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("settlement contracts: %w", errors.Join(errs...))
	}
	return nil
}
