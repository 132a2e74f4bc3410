package riak

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
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
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '$') {
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

func knownOptions() string {
	k := []string{OptBucketType, OptBucket, OptNVal, OptR, OptW, OptPR, OptPW, OptAllowMult, OptNotFoundOK,
		OptRingSize, OptTransferLimit, OptBackend, OptAdmin, OptInactivity, OptConf}
	sort.Strings(k)
	return strings.Join(k, ", ")
}

var nameRe = func(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseOptions validates the scenario options. Unknown names are errors,
// so that a typo does not silently run with defaults.
func parseOptions(in map[string]string) (options, error) {
	o := defaultOptions()
	bad := func(k, want string) error {
		return fmt.Errorf("riak: option %s=%q: %s", k, in[k], want)
	}
	// n_val first: the quorums are checked against it.
	if v, ok := in[OptNVal]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 9 {
			return options{}, bad(OptNVal, "want an integer from 1 to 9")
		}
		o.nval = n
	}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic error messages
	for _, k := range names {
		v := strings.TrimSpace(in[k])
		switch k {
		case OptNVal:
		case OptBucketType, OptBucket:
			if !nameRe(v) {
				return options{}, bad(k, "want a name of letters, digits, '_', '-' or '.'")
			}
			if k == OptBucket {
				o.bucket = v
			} else {
				o.bucketType = v
			}
		case OptR, OptW, OptPR, OptPW:
			q, err := parseQuorum(v, o.nval)
			if err != nil {
				return options{}, bad(k, err.Error())
			}
			switch k {
			case OptR:
				o.r = q
			case OptW:
				o.w = q
			case OptPR:
				o.pr = q
			case OptPW:
				o.pw = q
			}
		case OptAllowMult, OptNotFoundOK:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return options{}, bad(k, "want true or false")
			}
			if k == OptAllowMult {
				o.allowMult = b
			} else {
				o.notFoundOK = b
			}
		case OptRingSize:
			n, err := strconv.Atoi(v)
			if err != nil || n < 8 || n > 1024 || n&(n-1) != 0 {
				return options{}, bad(k, "want a power of 2 from 8 to 1024")
			}
			o.ringSize = n
		case OptTransferLimit:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return options{}, bad(k, "want an integer from 1 to 64")
			}
			o.transferLimit = n
		case OptBackend:
			switch v {
			case "bitcask", "leveldb", "leveled", "memory":
				o.backend = v
			default:
				return options{}, bad(k, "want bitcask, leveldb, leveled or memory")
			}
		case OptAdmin:
			switch adminStyle(v) {
			case adminAuto, adminRiak3, adminRiak2:
				o.admin = adminStyle(v)
			default:
				return options{}, bad(k, `want auto, "riak admin" (Riak 3) or riak-admin (Riak 2)`)
			}
		case OptInactivity:
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > time.Hour {
				return options{}, bad(k, "want a duration from 1s to 1h")
			}
			o.inactivity = d
		case OptConf:
			conf, err := parseConf(v)
			if err != nil {
				return options{}, bad(k, err.Error())
			}
			o.conf = conf
		default:
			return options{}, fmt.Errorf("riak: unknown option %q (known: %s)", k, knownOptions())
		}
	}
	return o, nil
}

// config is what ClusterInfo.Config reports of the options.
func (o options) config() map[string]string {
	m := map[string]string{
		OptBucketType: o.bucketType, OptBucket: o.bucket, OptNVal: strconv.Itoa(o.nval),
		OptR: o.r.name, OptW: o.w.name, OptPR: o.pr.name, OptPW: o.pw.name,
		OptAllowMult: strconv.FormatBool(o.allowMult), OptNotFoundOK: strconv.FormatBool(o.notFoundOK),
		OptRingSize: strconv.Itoa(o.ringSize), OptBackend: o.backend,
	}
	if o.inactivity > 0 {
		m[OptInactivity] = o.inactivity.String()
	} else {
		m[OptInactivity] = "riak default"
	}
	if len(o.conf) > 0 {
		lines := make([]string, len(o.conf))
		for i, c := range o.conf {
			lines[i] = c.String()
		}
		m[OptConf] = strings.Join(lines, "; ")
	}
	if o.transferLimit > 0 {
		m[OptTransferLimit] = strconv.Itoa(o.transferLimit)
	} else {
		m[OptTransferLimit] = "riak default"
	}
	return m
}
