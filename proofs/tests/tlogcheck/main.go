// tlogcheck reads C2SP tlog-tiles through golang.org/x/mod/sumdb/tlog (Debian's
// golang-golang-x-mod-dev), an RFC 6962 tile implementation nobody on this project wrote, and
// prints what it derives from them, for proofs/tests/go_tlog.rs to compare with ours.
//
// Input, one tree per line on stdin: DIR SIZE ROOT_HEX INDEX[,INDEX...]
// where DIR holds the tree's tile/ directory. For each tree it checks tlog.TreeHash against
// ROOT_HEX (tlog's tile reader also checks every tile it reads against the tree), and for each
// INDEX it reads the entry from the entry bundle, proves it with tlog.ProveRecord and checks
// the proof with tlog.CheckRecord. Output, one JSON object per proven index:
// {"dir":DIR,"index":I,"entry":ENTRY,"proof":[HEX,...]}. Any failure: a message on stderr
// naming the tree, and exit status 1.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

// c2spPath maps tlog's tile path (tile/H/L/N[.p/W], data tiles at L "data") to the C2SP
// tlog-tiles one (tile/L/N[.p/W], entry bundles at tile/entries/...).
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	p = strings.Replace(p, "data/", "entries/", 1)
	return "tile/" + p
}

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// entry reads entry i of its bundle: each entry a big-endian uint16 length, then its bytes.
func entry(dir string, size, i int64) ([]byte, error) {
	t := tlog.Tile{H: 8, L: -1, N: i / 256, W: 256}
	if t.N == size/256 {
		t.W = int(size % 256)
	}
	b, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
	if err != nil {
		return nil, err
	}
	for k := int64(0); ; k++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("bundle %s ends before entry %d", c2spPath(t), i)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("bundle %s: entry cut short", c2spPath(t))
		}
		if k == i%256 {
			return b[2 : 2+n], nil
		}
		b = b[2+n:]
	}
}

func check(line string, out *json.Encoder) error {
	f := strings.Fields(line)
	if len(f) != 4 {
		return fmt.Errorf("want DIR SIZE ROOT INDEXES, got %q", line)
	}
	dir := f[0]
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return err
	}
	raw, err := hex.DecodeString(f[2])
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("bad root %q", f[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, dirTiles{dir})
	th, err := tlog.TreeHash(size, hr)
	if err != nil {
		return fmt.Errorf("tree hash: %v", err)
	}
	if th != root {
		return fmt.Errorf("tree hash %x, want %x", th, root)
	}
	for _, s := range strings.Split(f[3], ",") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		e, err := entry(dir, size, i)
		if err != nil {
			return err
		}
		p, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			return fmt.Errorf("prove %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, th, i, tlog.RecordHash(e)); err != nil {
			return fmt.Errorf("check %d: %v", i, err)
		}
		hexes := make([]string, len(p))
		for k, h := range p {
			hexes[k] = hex.EncodeToString(h[:])
		}
		if err := out.Encode(map[string]any{"dir": dir, "index": i, "entry": string(e), "proof": hexes}); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	w := bufio.NewWriter(os.Stdout)
	out := json.NewEncoder(w)
	for in.Scan() {
		if err := check(in.Text(), out); err != nil {
			w.Flush()
			fmt.Fprintf(os.Stderr, "tlogcheck: %s: %v\n", strings.Fields(in.Text())[0], err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		os.Exit(1)
	}
}
