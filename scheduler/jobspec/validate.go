package jobspec

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// Upper bounds that only Validate uses.
const (
	maxGPUMemory = Size(1 << 40) // 1TiB: more than any single GPU has
	maxDisk      = Size(1 << 50) // 1PiB
	minDeadline  = Duration(time.Minute)
	maxDeadline  = Duration(365 * 24 * time.Hour)
	maxLR        = 10.0
	maxDecay     = 1.0
)

var namePattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// checker collects field errors.
type checker struct{ errs []*FieldError }

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldErr(path, format, args...))
}

// Validate checks every field of s and returns all problems joined with
// errors.Join, each a *FieldError naming its field (use FieldErrors or
// errors.As to get at them). It checks values as they are: Parse fills the
// defaults before it calls Validate; a Spec built in Go gets none.
func (s *Spec) Validate() error {
	var c checker
	if s.Version != Version {
		if s.Version == 0 {
			c.add("version", "is required and must be %d", Version)
		} else {
			c.add("version", "must be %d, got %d", Version, s.Version)
		}
	}
	c.name(s.Name)
	c.executor(s)
	c.dataset(&s.Dataset)
	c.intRange("rounds", s.Rounds, 1, MaxRounds)
	if t := s.TaskletsPerRound; t != AutoTasklets && (t < 1 || t > MaxTasklets) {
		c.add("tasklets_per_round", `must be "auto" or an integer between 1 and %d, got %d`, MaxTasklets, t)
	}
	c.intRange("inner_steps", s.InnerSteps, 1, MaxInnerSteps)
	c.intRange("batch_size", s.BatchSize, 1, MaxBatchSize)
	c.inner(&s.InnerOptimizer)
	c.outer(&s.OuterOptimizer)
	c.resources(&s.Resources)
	c.deadline(s.Deadline)
	if p := s.MaxPricePerHour; !(p >= 0) || math.IsInf(p, 0) {
		c.add("max_price_per_hour", "must be a number at least 0 (0 means no limit), got %s", fmtFloat(p))
	}
	c.closed("verify.rate", s.Verify.Rate, 0, 1)
	c.closed("verify.min_rate_new_peers", s.Verify.MinRateNewPeers, 0, 1)
	c.payment(s.Payment)
	return joinFieldErrors(c.errs)
}

func (c *checker) name(name string) {
	const allowed = "1 to 64 characters of a-z, 0-9 and -"
	switch {
	case name == "":
		c.add("name", "is required: %s", allowed)
	case !namePattern.MatchString(name):
		c.add("name", "%s is not allowed: use %s", quote(name), allowed)
	}
}

// executor checks the executor and that it has a model or a program,
// whichever it takes, and not the other. With an unknown executor it still
// checks whichever of the two is there.
func (c *checker) executor(s *Spec) {
	known := c.oneOf("executor", s.Executor, ExecutorBuiltin, ExecutorWasm, ExecutorProcess)
	builtin := s.Executor == ExecutorBuiltin
	if known && builtin {
		c.required("model", s.Model != nil, "is required for executor builtin: give kind, inputs, hidden and classes")
		c.forbidden("program", s.Program != nil, "is not allowed with executor builtin, which trains a model; remove program or use executor wasm or process")
	}
	if known && !builtin {
		// A program job may declare the network its program trains: the
		// coordinator builds the first weights from it and evaluates the
		// averaged weights with the built-in trainer (docs/programs.md).
		c.required("program", s.Program != nil, "is required for executor "+s.Executor+": give the program's cid and its args")
	}
	if s.Model != nil {
		c.model(s.Model)
	}
	if s.Program != nil && (!builtin || !known) {
		c.cid("program.cid", s.Program.CID, "the CIDv1 of the program, as printed by \"gridswarm data add\"")
		c.args(s.Program.Args)
	}
}

func (c *checker) model(m *Model) {
	if !c.oneOf("model.kind", m.Kind, ModelMLP, ModelSoftmax, ModelCNN) {
		return
	}
	c.intRange("model.inputs", m.Inputs, 1, MaxModelWidth)
	c.intRange("model.classes", m.Classes, 2, MaxModelWidth)
	if m.Kind != ModelCNN {
		c.forbidden("model.image", m.Image != nil, "belongs to kind cnn only; remove it or use kind cnn")
		c.forbidden("model.conv", len(m.Conv) > 0, "belongs to kind cnn only; remove it or use kind cnn")
	}
	switch {
	case m.Kind == ModelSoftmax && len(m.Hidden) > 0:
		c.add("model.hidden", "must be empty for kind softmax, which has no hidden layers; remove hidden or use kind mlp, got %d layers", len(m.Hidden))
		return
	case m.Kind == ModelMLP && (len(m.Hidden) < 1 || len(m.Hidden) > MaxHiddenLayers):
		c.add("model.hidden", "kind mlp needs 1 to %d hidden layers, got %d", MaxHiddenLayers, len(m.Hidden))
		return
	case m.Kind == ModelCNN && len(m.Hidden) > MaxHiddenLayers:
		c.add("model.hidden", "kind cnn takes 0 to %d hidden dense layers, got %d", MaxHiddenLayers, len(m.Hidden))
		return
	}
	ok := true
	for i, h := range m.Hidden {
		ok = c.intRange("model.hidden["+strconv.Itoa(i)+"]", h, 1, MaxHiddenWidth) && ok
	}
	if m.Kind == ModelCNN {
		ok = c.conv(m) && ok
	}
	if ok && m.Inputs >= 1 && m.Inputs <= MaxModelWidth && m.Classes >= 2 && m.Classes <= MaxModelWidth {
		if n := m.Params(); n > MaxModelParams {
			c.add("model", "has %d parameters, over the limit of %d; use fewer or narrower layers", n, MaxModelParams)
		}
	}
}

// conv checks a cnn's image and stages, following the shapes through the
// stages, and reports whether they are sound.
func (c *checker) conv(m *Model) bool {
	if m.Image == nil {
		c.add("model.image", "is required for kind cnn: give channels, height and width of one sample")
		return false
	}
	im := *m.Image
	ok := c.intRange("model.image.channels", im.Channels, 1, MaxFilters)
	ok = c.intRange("model.image.height", im.Height, 1, MaxImageSide) && ok
	ok = c.intRange("model.image.width", im.Width, 1, MaxImageSide) && ok
	if ok && int64(im.Channels)*int64(im.Height)*int64(im.Width) != int64(m.Inputs) {
		c.add("model.image", "%d×%d×%d is %d values per sample but model.inputs is %d; make inputs channels×height×width", im.Channels, im.Height, im.Width, im.Channels*im.Height*im.Width, m.Inputs)
		ok = false
	}
	if len(m.Conv) < 1 || len(m.Conv) > MaxConvStages {
		c.add("model.conv", "kind cnn needs 1 to %d stages, each {filters, size, padding, pool}, got %d", MaxConvStages, len(m.Conv))
		return false
	}
	ch, h, w := im.Channels, im.Height, im.Width
	for i, cv := range m.Conv {
		path := "model.conv[" + strconv.Itoa(i) + "]"
		good := c.intRange(path+".filters", cv.Filters, 1, MaxFilters)
		good = c.intRange(path+".size", cv.Size, 1, MaxKernelSize) && good
		good = c.intRange(path+".pool", cv.Pool, 1, MaxPool) && good
		if cv.Padding < 0 || cv.Size >= 1 && cv.Padding >= cv.Size {
			c.add(path+".padding", "must be between 0 and size-1 (%d), got %d", max(cv.Size-1, 0), cv.Padding)
			good = false
		}
		if !good || !ok {
			ok = false
			continue
		}
		ho, wo := h+2*cv.Padding-cv.Size+1, w+2*cv.Padding-cv.Size+1
		if ho < cv.Pool || wo < cv.Pool {
			c.add(path, "turns a %d×%d input into %d×%d, too small for its %d×%d pool; use a smaller size or pool, more padding, or fewer stages", h, w, ho, wo, cv.Pool, cv.Pool)
			ok = false
			continue
		}
		if n := int64(ch) * int64(cv.Size*cv.Size) * int64(ho) * int64(wo); n > MaxConvUnrolled {
			c.add(path, "unrolls to %d values per sample (channels×size²×output), over the limit of %d; use fewer channels or a smaller image", n, MaxConvUnrolled)
			ok = false
			continue
		}
		ch, h, w = cv.Filters, ho/cv.Pool, wo/cv.Pool
	}
	if ok && int64(ch)*int64(h)*int64(w) > MaxModelWidth {
		c.add("model.conv", "the last stage has %d outputs, over the limit of %d; add pooling or use fewer filters", ch*h*w, MaxModelWidth)
		ok = false
	}
	return ok
}

// Params counts the model's weights and biases. It assumes widths within
// the limits Validate checks (and, for a cnn, sound stages).
func (m *Model) Params() int64 {
	var n int64
	in := int64(m.Inputs)
	if m.Kind == ModelCNN && m.Image != nil {
		ch, h, w := int64(m.Image.Channels), int64(m.Image.Height), int64(m.Image.Width)
		for _, cv := range m.Conv {
			k, pool := int64(cv.Size), int64(max(cv.Pool, 1))
			n += int64(cv.Filters)*(ch*k*k) + int64(cv.Filters)
			ho, wo := h+2*int64(cv.Padding)-k+1, w+2*int64(cv.Padding)-k+1
			ch, h, w = int64(cv.Filters), ho/pool, wo/pool
		}
		in = ch * h * w
	}
	for _, h := range append(slices.Clone(m.Hidden), m.Classes) {
		n += (in + 1) * int64(h)
		in = int64(h)
	}
	return n
}

func (c *checker) args(args []string) {
	if len(args) > MaxArgs {
		c.add("program.args", "must have at most %d arguments, got %d", MaxArgs, len(args))
		return
	}
	for i, a := range args {
		path := "program.args[" + strconv.Itoa(i) + "]"
		switch {
		case len(a) > MaxArgLen:
			c.add(path, "must be at most %d bytes, got %d", MaxArgLen, len(a))
		case !printable(a):
			c.add(path, "must be printable text without control characters, got %s", quote(a))
		}
	}
}

// printable accepts valid UTF-8 made of letters, marks, numbers,
// punctuation, symbols and spaces: text that survives JSON and YAML alike.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

func (c *checker) dataset(d *Dataset) {
	c.cid("dataset.cid", d.CID, "the CIDv1 of a dataset added with \"gridswarm data add\"")
	splits := []string{SplitTrain, SplitValidation, SplitTest}
	trainOK := c.oneOf("dataset.train", d.Train, splits...)
	if c.oneOf("dataset.validate", d.Validate, splits...) && trainOK && d.Validate == d.Train {
		c.add("dataset.validate", "must differ from dataset.train, both are %q: validating on the training split says nothing", d.Train)
	}
	if d.Test != "" && c.oneOf("dataset.test", d.Test, splits...) && trainOK && d.Test == d.Train {
		c.add("dataset.test", "must differ from dataset.train, both are %q; leave test out for no final test", d.Train)
	}
}

// cid checks that s is a CIDv1 (any multibase).
func (c *checker) cid(path, s, what string) {
	switch {
	case s == "":
		c.add(path, "is required: %s", what)
		return
	case len(s) > MaxCIDLen:
		c.add(path, "must be a CID of at most %d characters, got %d", MaxCIDLen, len(s))
		return
	}
	id, err := cid.Decode(s)
	switch {
	case err != nil:
		c.add(path, "%s is not a valid CID (%v): use %s", quote(s), err, what)
	case id.Version() != 1:
		c.add(path, "%s is a CIDv0; use its CIDv1 form (bafy…), e.g. from \"ipfs cid format -v 1 -b base32 %s\"", quote(s), s)
	}
}

func (c *checker) inner(o *InnerOptimizer) {
	const p = "inner_optimizer."
	if !c.oneOf(p+"kind", o.Kind, OptimizerSGD, OptimizerAdam) {
		return
	}
	c.open0(p+"lr", o.LR, maxLR)
	if o.Kind == OptimizerSGD {
		c.fraction(p+"momentum", o.Momentum)
		c.unused(p+"beta1", o.Beta1, "adam")
		c.unused(p+"beta2", o.Beta2, "adam")
	} else {
		c.unused(p+"momentum", o.Momentum, "sgd")
		c.fraction(p+"beta1", o.Beta1)
		c.fraction(p+"beta2", o.Beta2)
	}
	c.closed(p+"weight_decay", o.WeightDecay, 0, maxDecay)
}

func (c *checker) outer(o *OuterOptimizer) {
	const p = "outer_optimizer."
	if !c.oneOf(p+"kind", o.Kind, OuterNesterov, OuterAverage) {
		return
	}
	if o.Kind == OuterNesterov {
		c.open0(p+"lr", o.LR, maxLR)
		c.fraction(p+"momentum", o.Momentum)
		return
	}
	if o.LR != 1 {
		c.add(p+"lr", "must be 1 for kind average, which applies the mean delta as is; remove lr or use kind nesterov, got %s", fmtFloat(o.LR))
	}
	if o.Momentum != 0 {
		c.add(p+"momentum", "must be 0 for kind average; remove momentum or use kind nesterov, got %s", fmtFloat(o.Momentum))
	}
}

func (c *checker) resources(r *Resources) {
	if r.GPUMemory > maxGPUMemory {
		c.add("resources.gpu_memory", "must be at most %s (0 means no GPU needed), got %s", maxGPUMemory, r.GPUMemory)
	}
	if r.Disk > maxDisk {
		c.add("resources.disk", "must be at most %s, got %s", maxDisk, r.Disk)
	}
}

func (c *checker) deadline(d Duration) {
	if d != 0 && (d < minDeadline || d > maxDeadline) {
		c.add("deadline", "must be between %s and %s after submission, or left out for none, got %s", minDeadline, maxDeadline, d)
	}
}

func (c *checker) required(path string, given bool, msg string) {
	if !given {
		c.add(path, "%s", msg)
	}
}

func (c *checker) forbidden(path string, given bool, msg string) {
	if given {
		c.add(path, "%s", msg)
	}
}

// oneOf checks that v is one of allowed and reports whether it is.
func (c *checker) oneOf(path, v string, allowed ...string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	if v == "" {
		c.add(path, "is required: one of %s", strings.Join(allowed, ", "))
	} else {
		c.add(path, "%s is not one of %s", quote(v), strings.Join(allowed, ", "))
	}
	return false
}

// intRange checks lo <= v <= hi and reports whether it holds.
func (c *checker) intRange(path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		c.add(path, "must be between %d and %d, got %d", lo, hi, v)
		return false
	}
	return true
}

// open0 checks 0 < v <= hi.
func (c *checker) open0(path string, v, hi float64) {
	if !(v > 0 && v <= hi) {
		c.add(path, "must be greater than 0 and at most %s, got %s", fmtFloat(hi), fmtFloat(v))
	}
}

// fraction checks 0 <= v < 1.
func (c *checker) fraction(path string, v float64) {
	if !(v >= 0 && v < 1) {
		c.add(path, "must be at least 0 and less than 1, got %s", fmtFloat(v))
	}
}

// closed checks lo <= v <= hi.
func (c *checker) closed(path string, v, lo, hi float64) {
	if !(v >= lo && v <= hi) {
		c.add(path, "must be between %s and %s, got %s", fmtFloat(lo), fmtFloat(hi), fmtFloat(v))
	}
}

// unused checks that a field of the other optimizer kind is not set.
func (c *checker) unused(path string, v float64, kind string) {
	if v != 0 {
		c.add(path, "is only used by kind %s; remove it, got %s", kind, fmtFloat(v))
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// amountPattern is a decimal number of tokens: digits, at most one point,
// at most 18 decimals (the most an ERC-20 commonly has).
var amountPattern = regexp.MustCompile(`^[0-9]{1,30}(\.[0-9]{1,18})?$`)

func (c *checker) payment(p *Payment) {
	if p == nil {
		return
	}
	amount := func(field, v string, positive bool) {
		switch {
		case v == "":
			c.add(field, `is required: a decimal number of tokens such as "25" or "0.5"`)
		case !amountPattern.MatchString(v):
			c.add(field, `must be a decimal number of tokens such as "25" or "0.5" (at most 18 decimals), got %s`, quote(v))
		case positive && strings.Trim(v, "0.") == "":
			c.add(field, "must be more than 0, got %s", quote(v))
		}
	}
	amount("payment.budget", p.Budget, true)
	amount("payment.price", p.Price, true)
	if p.Per != PerTasklet && p.Per != PerSample {
		c.add("payment.per", "must be %q or %q, got %s", PerTasklet, PerSample, quote(p.Per))
	}
	if p.RoyaltyBps < 0 || p.RoyaltyBps > MaxRoyaltyBps {
		c.add("payment.royalty_bps", "must be between 0 and %d (basis points: 500 is 5%%), got %d", MaxRoyaltyBps, p.RoyaltyBps)
	}
	if p.RoyaltyBps > 0 && p.DatasetToken == 0 {
		c.add("payment.royalty_bps", "needs payment.dataset_token: the Registry token of the dataset whose owner receives it (`gridswarm data register CID` mints one)")
	}
}
