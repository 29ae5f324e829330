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
//
// A line "checkpoint DIR VKEY_FILE NOTE_FILE OLD_SIZE OLD_ROOT_HEX" checks a receipt log's
// signed checkpoint instead: golang.org/x/mod/sumdb/note opens NOTE_FILE with the verifier
// key in VKEY_FILE (C2SP signed-note, Ed25519); the text's size and base64 root must be the
// tree hash of DIR's tiles; tlog.ProveTree proves OLD_SIZE consistent with it from those
// tiles and tlog.CheckTree checks that proof against OLD_ROOT_HEX. Output:
// {"origin":O,"size":N,"root":HEX,"consistency":[HEX,...]}.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
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

func checkpoint(f []string, out *json.Encoder) error {
	if len(f) != 6 {
		return fmt.Errorf("want checkpoint DIR VKEY NOTE OLD_SIZE OLD_ROOT, got %q", f)
	}
	dir := f[1]
	vkey, err := os.ReadFile(f[2])
	if err != nil {
		return err
	}
	text, err := os.ReadFile(f[3])
	if err != nil {
		return err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return fmt.Errorf("verifier key: %v", err)
	}
	n, err := note.Open(text, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return fmt.Errorf("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("bad root %q", lines[2])
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
	old, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return err
	}
	oldRaw, err := hex.DecodeString(f[5])
	if err != nil || len(oldRaw) != 32 {
		return fmt.Errorf("bad old root %q", f[5])
	}
	var oldRoot tlog.Hash
	copy(oldRoot[:], oldRaw)
	p, err := tlog.ProveTree(size, old, hr)
	if err != nil {
		return fmt.Errorf("prove %d -> %d: %v", old, size, err)
	}
	if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
		return fmt.Errorf("check %d -> %d: %v", old, size, err)
	}
	hexes := make([]string, len(p))
	for k, h := range p {
		hexes[k] = hex.EncodeToString(h[:])
	}
	return out.Encode(map[string]any{"origin": lines[0], "size": size, "root": hex.EncodeToString(root[:]), "consistency": hexes})
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	w := bufio.NewWriter(os.Stdout)
	out := json.NewEncoder(w)
	for in.Scan() {
		var err error
		if f := strings.Fields(in.Text()); len(f) > 0 && f[0] == "checkpoint" {
			err = checkpoint(f, out)
		} else {
			err = check(in.Text(), out)
		}
		if err != nil {
			w.Flush()
			fmt.Fprintf(os.Stderr, "tlogcheck: %s: %v\n", strings.Fields(in.Text())[0], err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		os.Exit(1)
	}
}
