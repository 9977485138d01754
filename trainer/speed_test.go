package trainer

import (
	"context"
	"testing"
)

func TestSpeed(t *testing.T) {
	adam := Adam(0.001)
	tests := []struct {
		name  string
		m     Model
		o     Optimizer
		batch int
	}{
		{"mlp sgd", benchModel, Optimizer{Kind: OptSGD, LR: 0.01}, 64},
		{"mlp adam", benchModel, adam, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Speed(context.Background(), tt.m, tt.o, tt.batch, 4, 2); got <= 0 {
				t.Errorf("Speed = %v samples/s, want > 0", got)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := Speed(ctx, benchModel, adam, 64, 4, 2); got != 0 {
		t.Errorf("Speed with a cancelled context = %v, want 0", got)
	}
	if got := Speed(context.Background(), Model{Kind: KindMLP}, adam, 64, 4, 2); got != 0 {
		t.Errorf("Speed of an invalid model = %v, want 0", got)
	}
}
