package safetensors

import "testing"

// mnistShard is the size of one MNIST dataset shard: 5,000 images of 784
// bytes and their labels.
func mnistShard() *File {
	return &File{Tensors: []Tensor{
		{Name: "images", DType: DTypeU8, Shape: []int64{5000, 784}, Data: make([]byte, 5000*784)},
		{Name: "labels", DType: DTypeU8, Shape: []int64{5000}, Data: make([]byte, 5000)},
	}}
}

func BenchmarkEncode(b *testing.B) {
	f := mnistShard()
	b.SetBytes(5000 * 785)
	for b.Loop() {
		if _, err := Encode(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	enc, err := Encode(mnistShard())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkF32(b *testing.B) {
	t := FromF32("w", []int64{1 << 20}, make([]float32, 1<<20))
	b.SetBytes(4 << 20)
	for b.Loop() {
		if _, err := F32(t); err != nil {
			b.Fatal(err)
		}
	}
}
