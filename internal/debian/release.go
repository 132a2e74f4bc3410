package debian

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// DefaultKeyrings are used for a source without Signed-By, as apt does:
// the Debian archive keyring, then the host's trusted.gpg.d.
var DefaultKeyrings = []string{
	"/usr/share/keyrings/debian-archive-keyring.gpg",
	"/etc/apt/trusted.gpg",
	"/etc/apt/trusted.gpg.d/*.gpg",
	"/etc/apt/trusted.gpg.d/*.asc",
}

// FileSum is what a Release file says of one file.
type FileSum struct {
	SHA256 string
	Size   int64
}

// Release is the verified content of a suite's InRelease.
type Release struct {
	Source        Source
	Codename      string
	Date          time.Time
	ValidUntil    time.Time // zero: none
	AcquireByHash bool
	Files         map[string]FileSum // path under dists/SUITE → SHA256 and size
	Signer        string             // the key that signed it (fingerprint and identity)
}

// VerifyInRelease checks the clear-signed InRelease text against keyring
// and parses what it signs. A bad or unknown signature, or a release past
// its Valid-Until, is an error.
func VerifyInRelease(src Source, data []byte, keyring openpgp.EntityList, now time.Time) (*Release, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("debian: %s: InRelease is not clear-signed", src)
	}
	signer, err := block.VerifySignature(keyring, nil)
	if err != nil {
		return nil, fmt.Errorf("debian: %s: InRelease signature: %w (keyring: %s)", src, err, keyringName(src))
	}
	rel, err := parseRelease(block.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("debian: %s: InRelease: %w", src, err)
	}
	rel.Source = src
	if signer != nil && signer.PrimaryKey != nil {
		rel.Signer = strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint))
		for name := range signer.Identities {
			rel.Signer += " " + name
			break
		}
	}
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, fmt.Errorf("debian: %s: InRelease expired at %s (Valid-Until); the mirror is stale", src, rel.ValidUntil.Format(time.RFC1123))
	}
	return rel, nil
}

func keyringName(src Source) string {
	switch {
	case src.Keyring == "":
		return "default keyrings"
	case strings.Contains(src.Keyring, "BEGIN PGP"):
		return "the key in " + src.From
	}
	return src.Keyring
}

// parseRelease reads the fields evalrun uses from a Release text.
func parseRelease(text []byte) (*Release, error) {
	paras := paragraphs(string(text))
	if len(paras) == 0 {
		return nil, errors.New("empty Release")
	}
	p := paras[0]
	rel := &Release{Codename: p["codename"], AcquireByHash: strings.EqualFold(p["acquire-by-hash"], "yes"), Files: map[string]FileSum{}}
	if d := p["date"]; d != "" {
		if t, err := parseReleaseTime(d); err == nil {
			rel.Date = t
		}
	}
	if v := p["valid-until"]; v != "" {
		t, err := parseReleaseTime(v)
		if err != nil {
			return nil, fmt.Errorf("Valid-Until %q: %w", v, err)
		}
		rel.ValidUntil = t
	}
	for _, line := range strings.Split(p["sha256"], "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || len(f[0]) != 64 {
			return nil, fmt.Errorf("bad SHA256 line %q", line)
		}
		rel.Files[f[2]] = FileSum{SHA256: strings.ToLower(f[0]), Size: size}
	}
	if len(rel.Files) == 0 {
		return nil, errors.New("no SHA256 sums (an archive signed with SHA256 is needed)")
	}
	return rel, nil
}

func parseReleaseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not an RFC 1123 date")
}

// LoadKeyring reads the keyring a source names: an armored key block
// (deb822 Signed-By may embed one), a key file (binary or armored), or,
// when empty, the default keyrings (patterns of DefaultKeyrings under
// root). No usable key is an error naming where it looked.
func LoadKeyring(root, signedBy string) (openpgp.EntityList, error) {
	signedBy = strings.TrimSpace(signedBy)
	if strings.Contains(signedBy, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(signedBy))
		if err != nil {
			return nil, fmt.Errorf("debian: Signed-By key block: %w", err)
		}
		return el, nil
	}
	var files []string
	if signedBy != "" {
		for _, f := range strings.Fields(strings.ReplaceAll(signedBy, ",", " ")) {
			if !strings.HasPrefix(f, "/") {
				// a fingerprint (Signed-By may list them): use the defaults
				files = nil
				break
			}
			files = append(files, filepath.Join(root, f))
		}
	}
	if len(files) == 0 {
		for _, pat := range DefaultKeyrings {
			m, _ := filepath.Glob(filepath.Join(root, pat))
			sort.Strings(m)
			files = append(files, m...)
		}
	}
	var all openpgp.EntityList
	var errs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		el, err := readKeys(b)
		if err != nil {
			errs = append(errs, f+": "+err.Error())
			continue
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("debian: no OpenPGP key to check the archive's signature with (looked in %s: %s); install debian-archive-keyring",
			strings.Join(files, ", "), strings.Join(errs, "; "))
	}
	return all, nil
}

func readKeys(b []byte) (openpgp.EntityList, error) {
	if bytes.Contains(b, []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(b))
}
