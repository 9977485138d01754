package trainer

import (
	"math"
	"strings"
	"testing"
)

func TestTrainConfigValidate(t *testing.T) {
	sgd := Optimizer{Kind: OptSGD, LR: 0.1, Momentum: 0.9}
	tests := []struct {
		name    string
		cfg     TrainConfig
		wantErr string
	}{
		{"sgd", TrainConfig{Steps: 10, BatchSize: 64, Optimizer: sgd}, ""},
		{"adam", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Adam(1e-3), Workers: 4}, ""},
		{"zero steps", TrainConfig{BatchSize: 64, Optimizer: sgd}, "steps"},
		{"too many steps", TrainConfig{Steps: MaxSteps + 1, BatchSize: 64, Optimizer: sgd}, "steps"},
		{"zero batch", TrainConfig{Steps: 1, Optimizer: sgd}, "batch_size"},
		{"huge batch", TrainConfig{Steps: 1, BatchSize: MaxBatchSize + 1, Optimizer: sgd}, "batch_size"},
		{"negative workers", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: sgd, Workers: -1}, "workers"},
		{"unknown optimizer", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: "lion", LR: 1}}, "kind"},
		{"zero lr", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptSGD}}, "lr"},
		{"nan lr", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptSGD, LR: float32(math.NaN())}}, "lr"},
		{"momentum 1", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptSGD, LR: 1, Momentum: 1}}, "momentum"},
		{"negative decay", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptSGD, LR: 1, WeightDecay: -1}}, "weight_decay"},
		{"adam beta2 nan", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptAdam, LR: 1, Beta1: 0.9, Beta2: float32(math.NaN()), Eps: 1e-8}}, "beta2"},
		{"adam zero eps", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptAdam, LR: 1, Beta1: 0.9, Beta2: 0.99}}, "eps"},
		{"adam beta1 1", TrainConfig{Steps: 1, BatchSize: 1, Optimizer: Optimizer{Kind: OptAdam, LR: 1, Beta1: 1, Beta2: 0.99, Eps: 1}}, "beta1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestDataValidate(t *testing.T) {
	m := Model{Kind: KindSoftmax, Inputs: 2, Classes: 3}
	tests := []struct {
		name    string
		d       Data
		wantErr string
	}{
		{"valid", Data{X: []float32{1, 2, 3, 4}, Y: []int32{0, 2}, N: 2}, ""},
		{"empty", Data{}, "n = 0"},
		{"short x", Data{X: []float32{1, 2, 3}, Y: []int32{0, 2}, N: 2}, "x has 3 values"},
		{"short y", Data{X: []float32{1, 2, 3, 4}, Y: []int32{0}, N: 2}, "y has 1 labels"},
		{"label too big", Data{X: []float32{1, 2, 3, 4}, Y: []int32{0, 3}, N: 2}, "y[1] = 3"},
		{"negative label", Data{X: []float32{1, 2, 3, 4}, Y: []int32{-1, 0}, N: 2}, "y[0] = -1"},
		{"nan feature", Data{X: []float32{1, 2, 3, float32(math.NaN())}, Y: []int32{0, 1}, N: 2}, "sample 1, feature 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate(m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
