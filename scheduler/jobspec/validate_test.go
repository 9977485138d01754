package jobspec

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// goodSpec is a valid spec built in Go, as the daemon might.
func goodSpec() *Spec {
	return &Spec{
		Version: 1, Name: "go-built", Executor: ExecutorBuiltin,
		Model:          &Model{Kind: ModelMLP, Inputs: 4, Hidden: []int{3}, Classes: 2},
		Dataset:        Dataset{CID: cidDataset, Train: SplitTrain, Validate: SplitValidation},
		Rounds:         1,
		InnerSteps:     1,
		BatchSize:      1,
		InnerOptimizer: InnerOptimizer{Kind: OptimizerSGD, LR: 0.1},
		OuterOptimizer: OuterOptimizer{Kind: OuterAverage, LR: 1},
	}
}

func TestValidateGoSpec(t *testing.T) {
	if err := goodSpec().Validate(); err != nil {
		t.Fatalf("Validate(goodSpec) = %v, want nil", err)
	}
	s := goodSpec()
	s.Rounds = 0
	s.Model.Hidden = []int{5000}
	s.Executor = ExecutorProcess
	err := s.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "program" {
		t.Fatalf("errors.As(Validate()) = %v, want the first field error", fe)
	}
	want := []string{"program", "model.hidden[0]", "rounds"}
	if got := paths(FieldErrors(err)); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate paths = %q, want %q (error: %v)", got, want, err)
	}
}

func TestValidateZeroSpec(t *testing.T) {
	want := []string{
		"version", "name", "executor", "dataset.cid", "dataset.train", "dataset.validate",
		"rounds", "inner_steps", "batch_size", "inner_optimizer.kind", "outer_optimizer.kind",
	}
	if got := paths(FieldErrors((&Spec{}).Validate())); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate(Spec{}) paths = %q\nwant %q", got, want)
	}
}

func TestValidateUnknownExecutorStillChecksModel(t *testing.T) {
	s := goodSpec()
	s.Executor = "tpu"
	s.Model.Hidden = []int{0}
	want := []string{"executor", "model.hidden[0]"}
	if got := paths(FieldErrors(s.Validate())); !reflect.DeepEqual(got, want) {
		t.Errorf("Validate paths = %q, want %q", got, want)
	}
}

func TestFieldError(t *testing.T) {
	tests := []struct {
		fe   *FieldError
		want string
	}{
		{&FieldError{Path: "model.hidden[1]", Msg: "must be between 1 and 4096, got 0"}, "model.hidden[1]: must be between 1 and 4096, got 0"},
		{&FieldError{Path: "rounds", Msg: "must be between 1 and 10000, got 0", Line: 12}, "line 12: rounds: must be between 1 and 10000, got 0"},
		{&FieldError{Msg: "job spec is empty", Line: 0}, "job spec is empty"},
		{FieldErr("dataset.cid", "%s is not in the data grid and no peer provides it", "bafy…"), "dataset.cid: bafy… is not in the data grid and no peer provides it"},
	}
	for _, tt := range tests {
		if got := tt.fe.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestFieldErrorsFindsWrappedAndJoined(t *testing.T) {
	a, b, c := FieldErr("a", "x"), FieldErr("b", "y"), FieldErr("c", "z")
	err := fmt.Errorf("cannot submit job: %w", errors.Join(a, errors.New("not a field error"), errors.Join(b, c)))
	got := FieldErrors(err)
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("FieldErrors = %v, want [a b c]", got)
	}
	if FieldErrors(nil) != nil || FieldErrors(errors.New("x")) != nil {
		t.Error("FieldErrors of an error without field errors is not nil")
	}
}

func TestTaskletsFor(t *testing.T) {
	tests := []struct {
		n             TaskletCount
		peers, shards int
		want          int
	}{
		{AutoTasklets, 5, 11, 5},
		{AutoTasklets, 20, 11, 11},
		{AutoTasklets, 0, 11, 1},
		{AutoTasklets, 5, 0, 1},
		{AutoTasklets, -3, 11, 1},
		{AutoTasklets, 5000, 5000, MaxTasklets},
		{8, 2, 3, 8},
		{1, 100, 100, 1},
	}
	for _, tt := range tests {
		s := Spec{TaskletsPerRound: tt.n}
		if got := s.TaskletsFor(tt.peers, tt.shards); got != tt.want {
			t.Errorf("tasklets_per_round %v: TaskletsFor(%d, %d) = %d, want %d", tt.n, tt.peers, tt.shards, got, tt.want)
		}
	}
}

func TestModelParams(t *testing.T) {
	tests := []struct {
		m    Model
		want int64
	}{
		{Model{Kind: ModelSoftmax, Inputs: 784, Classes: 10}, 785 * 10},
		{Model{Kind: ModelMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}, 785*128 + 129*10},
		{Model{Kind: ModelMLP, Inputs: 4, Hidden: []int{6, 5}, Classes: 3}, 5*6 + 7*5 + 6*3},
	}
	for _, tt := range tests {
		if got := tt.m.Params(); got != tt.want {
			t.Errorf("%+v.Params() = %d, want %d", tt.m, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"round", "rounds", 1}, {"wieght_decay", "weight_decay", 2}, {"abc", "", 3}, {"kitten", "sitting", 3}}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestValidatePayment(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Payment
		want []string
	}{
		{"good", Payment{Budget: "40", Price: "0.5", Per: PerTasklet}, []string{}},
		{"per sample with royalty", Payment{Budget: "1.000000000000000001", Price: "0.0001", Per: PerSample, DatasetToken: 3, RoyaltyBps: 500}, []string{}},
		{"missing", Payment{Per: PerTasklet}, []string{"payment.budget", "payment.price"}},
		{"zero and negative", Payment{Budget: "0.0", Price: "-1", Per: PerTasklet}, []string{"payment.budget", "payment.price"}},
		{"too many decimals", Payment{Budget: "1", Price: "0.0000000000000000001", Per: PerTasklet}, []string{"payment.price"}},
		{"unknown unit", Payment{Budget: "1", Price: "1", Per: "hour"}, []string{"payment.per"}},
		{"royalty without token", Payment{Budget: "1", Price: "1", Per: PerTasklet, RoyaltyBps: 100}, []string{"payment.royalty_bps"}},
		{"royalty too high", Payment{Budget: "1", Price: "1", Per: PerTasklet, DatasetToken: 1, RoyaltyBps: 5001}, []string{"payment.royalty_bps"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := goodSpec()
			p := tt.p
			s.Payment = &p
			if got := paths(FieldErrors(s.Validate())); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate paths = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPaymentDefaultsAndRoundTrip(t *testing.T) {
	s, err := Parse([]byte("version: 1\nname: paid\nmodel: {kind: softmax, inputs: 4, classes: 2}\ndataset: {cid: " + cidDataset + "}\npayment: {budget: \"40\", price: \"0.5\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Payment == nil || s.Payment.Per != PerTasklet || s.Payment.Budget != "40" {
		t.Fatalf("payment = %+v, want budget 40 per tasklet", s.Payment)
	}
	canon, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(canon)
	if err != nil || !reflect.DeepEqual(back.Payment, s.Payment) {
		t.Fatalf("canonical round trip: %+v, %v; want %+v", back.Payment, err, s.Payment)
	}
}
