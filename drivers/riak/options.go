package riak

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/internal/driverkit"
)

// Option names accepted in drivers.ClusterSpec.Options (cluster.options of
// a scenario). Every effective value is reported in ClusterInfo.Config.
const (
	OptBucketType    = "bucket-type"    // bucket type of every key (default "evalrun", created at formation)
	OptBucket        = "bucket"         // bucket name (default "evalrun")
	OptNVal          = "n_val"          // replicas per key (default 3)
	OptR             = "r"              // read quorum: one | quorum | all | default | N (default quorum)
	OptW             = "w"              // write quorum (default quorum)
	OptPR            = "pr"             // primary read quorum (default 0: sloppy quorum allowed)
	OptPW            = "pw"             // primary write quorum (default 0)
	OptAllowMult     = "allow_mult"     // keep siblings (default false)
	OptNotFoundOK    = "notfound_ok"    // a not-found reply counts toward r (default true)
	OptRingSize      = "ring-size"      // partitions (default 64; a power of 2)
	OptTransferLimit = "transfer-limit" // concurrent handoffs per node (default: Riak's, 2)
	OptBackend       = "storage-backend"
	OptAdmin         = "admin" // auto | "riak admin" | riak-admin (default auto: riak-admin when the image has it)
	// OptInactivity sets riak_core's vnode_inactivity_timeout (Riak's
	// default 60s): a vnode hands off only after this long without
	// requests, so it bounds how soon handoff can start. Lower it to make
	// tests faster; leave it to measure Riak as shipped.
	OptInactivity = "vnode-inactivity-timeout"
	// OptConf adds riak.conf settings, "key = value" pairs separated by
	// ';' (e.g. "handoff.ip = 127.0.0.1; anti_entropy = passive"). They are
	// applied after evalrun's own, so they can override them.
	OptConf = "riak.conf"
)

// Quorum values of Riak's Protocol Buffers API (riak_pb: RIAKC_RW_*): a
// request carries one of these or a plain count.
const (
	quorumOne     uint32 = 4294967294
	quorumQuorum  uint32 = 4294967293
	quorumAll     uint32 = 4294967292
	quorumDefault uint32 = 4294967291
)

// Defaults of the options.
const (
	DefaultBucketType = "evalrun"
	DefaultBucket     = "evalrun"
	DefaultNVal       = 3
	DefaultRingSize   = 64
	DefaultBackend    = "bitcask"
	maxNodes          = 32 // initial plus added nodes, a sanity bound
)

// quorum is one of r, w, pr, pw: a symbolic value or a count.
type quorum struct {
	name string // as given: "quorum", "2"
	pb   uint32 // what a request sends
}

func parseQuorum(v string, nval int) (quorum, error) {
	switch v {
	case "one":
		return quorum{v, quorumOne}, nil
	case "quorum":
		return quorum{v, quorumQuorum}, nil
	case "all":
		return quorum{v, quorumAll}, nil
	case "default":
		return quorum{v, quorumDefault}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > nval {
		return quorum{}, fmt.Errorf("want one, quorum, all, default or a count from 0 to n_val (%d)", nval)
	}
	return quorum{v, uint32(n)}, nil
}

// adminStyle is how a node's admin commands are spelled.
type adminStyle string

const (
	adminAuto  adminStyle = "auto"
	adminRiak3 adminStyle = "riak admin" // Riak 3.x
	adminRiak2 adminStyle = "riak-admin" // Riak 2.x

)

// options are the tunables a scenario may set.
type options struct {
	bucketType, bucket string
	nval               int
	r, w, pr, pw       quorum
	allowMult          bool
	notFoundOK         bool
	ringSize           int
	transferLimit      int // 0: Riak's default
	backend            string
	admin              adminStyle
	inactivity         time.Duration // 0: Riak's default
	conf               []confSetting // extra riak.conf settings, in order
}

// confSetting is one riak.conf line.
type confSetting struct{ key, value string }

func (c confSetting) String() string { return c.key + " = " + c.value }

// parseConf reads "k = v; k2 = v2". Keys are riak.conf names (letters,
// digits, '.', '_', '$'); values are one line without ';'.
func parseConf(v string) ([]confSetting, error) {
	var out []confSetting
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" || val == "" {
			return nil, fmt.Errorf("%q is not \"key = value\"", part)
		}
		for _, c := range k {
			if !isRiakConfKeyChar(c) {
				return nil, fmt.Errorf("%q is not a riak.conf key", k)
			}
		}
		if strings.ContainsAny(val, "\n\r") {
			return nil, fmt.Errorf("the value of %s spans lines", k)
		}
		out = append(out, confSetting{k, val})
	}
	if len(out) == 0 {
		return nil, errors.New(`want "key = value" pairs separated by ';'`)
	}
	return out, nil
}

func defaultOptions() options {
	return options{
		bucketType: DefaultBucketType, bucket: DefaultBucket, nval: DefaultNVal,
		r: quorum{"quorum", quorumQuorum}, w: quorum{"quorum", quorumQuorum},
		pr: quorum{"0", 0}, pw: quorum{"0", 0},
		notFoundOK: true, ringSize: DefaultRingSize, backend: DefaultBackend, admin: adminAuto,
	}
}

// validName: a bucket or bucket type name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !isNameChar(c) {
			return false
		}
	}
	return true
}

// table is the option table over o's fields; n_val comes first because
// the quorums are checked against it.
func (o *options) table() driverkit.Options {
	name := func(opt string, dst *string) driverkit.Option {
		const want = "want a name of letters, digits, '_', '-' or '.'"
		return driverkit.Func(opt, want, func(v string) error {
			if !validName(v) {
				return errors.New(want)
			}
			*dst = v
			return nil
		}, func() string { return *dst })
	}
	q := func(opt string, dst *quorum) driverkit.Option {
		return driverkit.Func(opt, "", func(v string) error {
			parsed, err := parseQuorum(v, o.nval)
			if err != nil {
				return err
			}
			*dst = parsed
			return nil
		}, func() string { return dst.name })
	}
	return driverkit.Options{
		driverkit.Int(OptNVal, &o.nval, 1, 9),
		name(OptBucketType, &o.bucketType),
		name(OptBucket, &o.bucket),
		q(OptR, &o.r), q(OptW, &o.w), q(OptPR, &o.pr), q(OptPW, &o.pw),
		driverkit.Bool(OptAllowMult, &o.allowMult),
		driverkit.Bool(OptNotFoundOK, &o.notFoundOK),
		driverkit.Func(OptRingSize, "", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 8 || n > 1024 || n&(n-1) != 0 {
				return errors.New("want a power of 2 from 8 to 1024")
			}
			o.ringSize = n
			return nil
		}, func() string { return strconv.Itoa(o.ringSize) }),
		driverkit.IntOrDefault(OptTransferLimit, &o.transferLimit, 1, 64, "riak default"),
		driverkit.OneOf(OptBackend, &o.backend, "bitcask", "leveldb", "leveled", "memory"),
		driverkit.OneOf(OptAdmin, &o.admin, adminAuto, adminRiak3, adminRiak2),
		driverkit.Duration(OptInactivity, &o.inactivity, time.Second, time.Hour, "riak default"),
		driverkit.Func(OptConf, "", func(v string) error {
			conf, err := parseConf(v)
			if err != nil {
				return err
			}
			o.conf = conf
			return nil
		}, func() string {
			lines := make([]string, len(o.conf))
			for i, c := range o.conf {
				lines[i] = c.String()
			}
			return strings.Join(lines, "; ")
		}),
	}
}

// parseOptions validates the scenario options (*drivers.OptionError).
func parseOptions(in map[string]string) (options, error) {
	o := defaultOptions()
	if err := o.table().Parse("riak", in); err != nil {
		return options{}, err
	}
	return o, nil
}

// config is what ClusterInfo.Config reports of the options.
func (o options) config() map[string]string {
	m := o.table().Config()
	if len(o.conf) == 0 {
		delete(m, OptConf)
	}
	delete(m, OptAdmin) // Info reports the admin style it resolved
	return m
}

// isRiakConfKeyChar says whether c may stand in a riak.conf key.
func isRiakConfKeyChar(c rune) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '$'
}

// isNameChar says whether c may stand in a bucket or bucket type name.
func isNameChar(c rune) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.'
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
