package dataset

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

const validManifest = `{"format":"gridswarm-dataset/1","name":"mnist","license":"CC BY-SA 3.0","source":"lecun.com",
 "tensors":{"images":{"dtype":"U8","shape":[784]},"labels":{"dtype":"U8","shape":[]}},
 "classes":10,
 "shards":[{"file":"train-000.safetensors","split":"train","samples":5000},
           {"file":"validation-000.safetensors","split":"validation","samples":300},
           {"file":"test-000.safetensors","split":"test","samples":5000},
           {"file":"test-001.safetensors","split":"test","samples":20}]}`

// editManifest returns validManifest with edit applied to its generic form.
func editManifest(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validManifest), &m); err != nil {
		t.Fatalf("unmarshal validManifest: %v", err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal edited manifest: %v", err)
	}
	return b
}

func shardAt(m map[string]any, i int) map[string]any {
	return m["shards"].([]any)[i].(map[string]any)
}

func tensorSpec(m map[string]any, name string) map[string]any {
	return m["tensors"].(map[string]any)[name].(map[string]any)
}

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(validManifest))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	want := &Manifest{
		Format: Format, Name: "mnist", License: "CC BY-SA 3.0", Source: "lecun.com",
		Tensors: map[string]TensorSpec{
			"images": {DType: safetensors.DTypeU8, Shape: []int64{784}},
			"labels": {DType: safetensors.DTypeU8, Shape: []int64{}},
		},
		Classes: 10,
		Shards: []ShardInfo{
			{"train-000.safetensors", SplitTrain, 5000},
			{"validation-000.safetensors", SplitValidation, 300},
			{"test-000.safetensors", SplitTest, 5000},
			{"test-001.safetensors", SplitTest, 20},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("ParseManifest =\n%+v\nwant\n%+v", m, want)
	}
	if got, want := Counts(m), map[string]int{"train": 5000, "validation": 300, "test": 5020}; !reflect.DeepEqual(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	if got := m.SplitShards(SplitTest); len(got) != 2 || got[0].File != "test-000.safetensors" || got[1].File != "test-001.safetensors" {
		t.Errorf("SplitShards(test) = %v, want test-000 then test-001", got)
	}
	if s, ok := m.Shard("validation-000.safetensors"); !ok || s.Samples != 300 {
		t.Errorf("Shard(validation-000) = %+v, %v; want 300 samples", s, ok)
	}
}

func TestMarshalGolden(t *testing.T) {
	m := &Manifest{
		Format: Format, Name: "tiny", Source: "a<b&c",
		Tensors: map[string]TensorSpec{
			"y": {DType: safetensors.DTypeI64},
			"x": {DType: safetensors.DTypeF32, Shape: []int64{2, 3}},
		},
		Shards: []ShardInfo{{"train-000.safetensors", SplitTrain, 4}},
	}
	got, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := `{
  "format": "gridswarm-dataset/1",
  "name": "tiny",
  "source": "a<b&c",
  "tensors": {
    "x": {
      "dtype": "F32",
      "shape": [
        2,
        3
      ]
    },
    "y": {
      "dtype": "I64",
      "shape": []
    }
  },
  "shards": [
    {
      "file": "train-000.safetensors",
      "split": "train",
      "samples": 4
    }
  ]
}
`
	if string(got) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m, err := ParseManifest([]byte(validManifest))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	m2, err := ParseManifest(b)
	if err != nil {
		t.Fatalf("ParseManifest(Marshal): %v", err)
	}
	if !reflect.DeepEqual(m2, m) {
		t.Fatalf("round trip =\n%+v\nwant\n%+v", m2, m)
	}
	b2, err := m2.Marshal()
	if err != nil || string(b2) != string(b) {
		t.Fatalf("Marshal is not stable (err %v):\n%s\nvs\n%s", err, b2, b)
	}
}

func TestParseManifestRejects(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		raw   string // used instead of edit when set
		field string
		want  string
	}{
		{name: "bad format", edit: func(m map[string]any) { m["format"] = "gridswarm-dataset/2" }, field: "format", want: `"gridswarm-dataset/2" is not "gridswarm-dataset/1"`},
		{name: "no format", edit: func(m map[string]any) { delete(m, "format") }, field: "format", want: `"" is not`},
		{name: "empty name", edit: func(m map[string]any) { m["name"] = " " }, field: "name", want: "is empty"},
		{name: "negative classes", edit: func(m map[string]any) { m["classes"] = -1 }, field: "classes", want: "is -1"},
		{name: "no tensors", edit: func(m map[string]any) { m["tensors"] = map[string]any{} }, field: "tensors", want: "lists no tensor"},
		{name: "no shards", edit: func(m map[string]any) { m["shards"] = []any{} }, field: "shards", want: "lists no shard"},
		{name: "unknown dtype", edit: func(m map[string]any) { tensorSpec(m, "images")["dtype"] = "U9" }, field: `tensors["images"].dtype`, want: `"U9" is not a known dtype`},
		{name: "missing shape", edit: func(m map[string]any) { delete(tensorSpec(m, "labels"), "shape") }, field: `tensors["labels"].shape`, want: "missing (use [] for one value per sample)"},
		{name: "zero dim", edit: func(m map[string]any) { tensorSpec(m, "images")["shape"] = []any{28, 0} }, field: `tensors["images"].shape[1]`, want: "is 0; dimensions must be positive"},
		{name: "overflowing shape", edit: func(m map[string]any) {
			tensorSpec(m, "images")["shape"] = []any{1 << 40, 1 << 40}
		}, field: `tensors["images"].shape`, want: "overflows int64"},
		{name: "metadata tensor name", edit: func(m map[string]any) {
			m["tensors"].(map[string]any)["__metadata__"] = map[string]any{"dtype": "U8", "shape": []any{}}
		}, field: `tensors["__metadata__"]`, want: "is not a usable tensor name"},
		{name: "bad split", edit: func(m map[string]any) { shardAt(m, 3)["split"] = "trian" }, field: "shards[3].split", want: `"trian" is not one of train, validation, test`},
		{name: "zero samples", edit: func(m map[string]any) { shardAt(m, 1)["samples"] = 0 }, field: "shards[1].samples", want: "is 0; must be positive"},
		{name: "too many samples", edit: func(m map[string]any) { shardAt(m, 0)["samples"] = 2000000 }, field: "shards[0].samples", want: "2000000 samples: tensors need more than the 1073741824-byte shard limit"},
		{name: "duplicate file", edit: func(m map[string]any) { shardAt(m, 2)["file"] = "train-000.safetensors" }, field: "shards[2].file", want: `"train-000.safetensors" is already shards[0]`},
		{name: "path with slash", edit: func(m map[string]any) { shardAt(m, 0)["file"] = "sub/train.safetensors" }, field: "shards[0].file", want: "must be a plain file name"},
		{name: "absolute path", edit: func(m map[string]any) { shardAt(m, 0)["file"] = "/etc/x.safetensors" }, field: "shards[0].file", want: "must be a plain file name"},
		{name: "parent dir", edit: func(m map[string]any) { shardAt(m, 0)["file"] = ".." }, field: "shards[0].file", want: "must not start with '.'"},
		{name: "backslash", edit: func(m map[string]any) { shardAt(m, 0)["file"] = `..\x.safetensors` }, field: "shards[0].file", want: "must be a plain file name"},
		{name: "hidden file", edit: func(m map[string]any) { shardAt(m, 0)["file"] = ".x.safetensors" }, field: "shards[0].file", want: "must not start with '.'"},
		{name: "control char", edit: func(m map[string]any) { shardAt(m, 0)["file"] = "a\nb.safetensors" }, field: "shards[0].file", want: "must be a plain file name"},
		{name: "empty file", edit: func(m map[string]any) { shardAt(m, 0)["file"] = "" }, field: "shards[0].file", want: `"" is empty`},
		{name: "wrong extension", edit: func(m map[string]any) { shardAt(m, 0)["file"] = "train.bin" }, field: "shards[0].file", want: "must end in .safetensors"},
		{name: "unknown field", edit: func(m map[string]any) { m["shards_"] = 1 }, want: `invalid JSON: json: unknown field "shards_"`},
		{name: "unknown shard field", edit: func(m map[string]any) { shardAt(m, 0)["bytes"] = 1 }, want: `unknown field "bytes"`},
		{name: "wrong type", edit: func(m map[string]any) { m["classes"] = "ten" }, want: "invalid JSON: json: cannot unmarshal string"},
		{name: "trailing data", raw: validManifest + ` {}`, want: "unexpected data after the JSON object"},
		{name: "not JSON", raw: `format: x`, want: "invalid JSON"},
		{name: "too big", raw: validManifest + strings.Repeat(" ", MaxManifestSize), want: "over the 1048576-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.raw)
			if tt.raw == "" {
				in = editManifest(t, tt.edit)
			}
			m, err := ParseManifest(in)
			if err == nil {
				t.Fatalf("ParseManifest succeeded with %+v, want error %q", m, tt.want)
			}
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *ManifestError", err)
			}
			if me.Field != tt.field || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q (field %q), want field %q and text %q", err, me.Field, tt.field, tt.want)
			}
			if tt.field != "" && !strings.HasPrefix(err.Error(), "manifest: "+tt.field+": ") {
				t.Fatalf("error = %q, want it to start with %q", err, "manifest: "+tt.field+": ")
			}
		})
	}
}

func TestMarshalRejectsInvalid(t *testing.T) {
	m := &Manifest{Format: Format, Name: "x", Tensors: map[string]TensorSpec{"a": {DType: "U8"}},
		Shards: []ShardInfo{{"a.safetensors", "dev", 1}}}
	if _, err := m.Marshal(); err == nil || !strings.Contains(err.Error(), "shards[0].split") {
		t.Fatalf("Marshal error = %v, want one naming shards[0].split", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(validManifest))
	f.Add([]byte(`{"format":"gridswarm-dataset/1","name":"x","tensors":{"a":{"dtype":"F32","shape":[]}},"shards":[{"file":"a.safetensors","split":"test","samples":1}]}`))
	f.Add([]byte(`{"format":"gridswarm-dataset/1","name":"x","tensors":{"a":{"dtype":"F32","shape":[]}},"shards":[{"file":"../a","split":"test","samples":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *ManifestError", err)
			}
			return
		}
		for _, s := range m.Shards {
			if checkFileName(s.File) != nil || strings.ContainsAny(s.File, `/\`) {
				t.Fatalf("accepted unsafe shard file %q", s.File)
			}
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("ParseManifest(Marshal): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(m2, m) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m2, m)
		}
		if out2, _ := m2.Marshal(); string(out2) != string(out) {
			t.Fatalf("Marshal is not stable")
		}
	})
}
