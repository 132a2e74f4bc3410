package riak

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/drivers"
)

// Reading single replicas. Riak's client APIs only read through a quorum
// (with read repair), so to show where a key's data is the driver asks a
// node to evaluate Erlang (`riak eval`): for each key, the annotated
// preference list for its hash as the ring and the live nodes make it
// (riak_core_apl:get_apl_ann: partition, owner node, primary or fallback),
// then riak_kv_vnode:local_get on each of those vnodes through rpc to its
// node: one replica's answer, no quorum, no repair. Each replica prints one
// line:
//
//	evalrun-replica KEY PARTITION NODE primary|fallback found HEX[,HEX|tomb…]
//	evalrun-replica KEY PARTITION NODE primary|fallback notfound
//	evalrun-replica KEY PARTITION NODE primary|fallback error TERM
//
// HEX is a sibling's first 16 bytes (evalrun's identity header), tomb a
// delete's tombstone.

// replicaLine starts every line of the inspection's output.
const replicaLine = "evalrun-replica"

// maxInspectKeys bounds one `riak eval` (the expression carries every key).
const maxInspectKeys = 200

var _ drivers.ReplicaInspector = (*cluster)(nil)

// InspectReplicas implements drivers.ReplicaInspector.
func (c *cluster) InspectReplicas(ctx context.Context, keys []string) ([]drivers.KeyReplicas, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var out []drivers.KeyReplicas
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxInspectKeys)]
		keys = keys[len(batch):]
		expr, err := inspectExpr(c.opts, batch)
		if err != nil {
			return nil, err
		}
		var lastErr error
		var got []drivers.KeyReplicas
		for _, n := range c.Members() {
			got, lastErr = c.evalReplicas(ctx, n, expr)
			if lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			return nil, lastErr
		}
		if got == nil {
			return nil, errors.New("riak: no member node is up to read replicas from")
		}
		out = append(out, got...)
	}
	return out, nil
}

func (c *cluster) evalReplicas(ctx context.Context, n *node, expr string) ([]drivers.KeyReplicas, error) {
	secs := strconv.Itoa(int(adminTimeout.Seconds()))
	res, err := n.DN.Exec(ctx, []string{"timeout", secs, "riak", "eval", expr})
	if err != nil {
		return nil, fmt.Errorf("riak: reading replicas on %s: %w", n.Name, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("riak: reading replicas on %s: riak eval exited with %d: %s", n.Name, res.ExitCode, lastLines(res.Stdout+res.Stderr, 3))
	}
	return parseReplicas(res.Stdout)
}

// inspectExpr is the Erlang expression that prints the replica lines for
// keys. Keys go in as byte lists (<<107,49>>), so no key can break out of
// the expression; a key must be printable without spaces, as the output
// lines are split on spaces.
func inspectExpr(o options, keys []string) (string, error) {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		if k == "" || len(k) > 1024 || strings.IndexFunc(k, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			return "", fmt.Errorf("riak: cannot read the replicas of key %q: want printable ASCII without spaces", k)
		}
		quoted[i] = erlangBinary(k)
	}
	return fmt.Sprintf(`T = %s, Bk = %s, N = %d,
Up = riak_core_node_watcher:nodes(riak_kv),
Hex = fun(V) -> binary:encode_hex(binary:part(V, 0, min(16, byte_size(V)))) end,
Desc = fun({ok, O}) -> "found " ++ string:join([case dict:is_key(<<"X-Riak-Deleted">>, M) of true -> "tomb"; false -> binary_to_list(Hex(V)) end || {M, V} <- riak_object:get_contents(O)], ",");
          ({error, notfound}) -> "notfound";
          (E) -> lists:flatten(io_lib:format("error ~w", [E])) end,
Bucket = case T of <<"default">> -> Bk; _ -> {T, Bk} end,
[begin
   BKey = {Bucket, K},
   DocIdx = riak_core_util:chash_std_keyfun(BKey),
   [io:format("%s ~s ~b ~s ~s ~s~n", [K, I, Nd, Ty, Desc(rpc:call(Nd, riak_kv_vnode, local_get, [I, BKey], 10000))])
    || {{I, Nd}, Ty} <- riak_core_apl:get_apl_ann(DocIdx, N, Up)]
 end || K <- [%s]],
ok.`, erlangBinary(o.bucketType), erlangBinary(o.bucket), o.nval, replicaLine, strings.Join(quoted, ", ")), nil
}

// erlangBinary writes s as an Erlang binary of its bytes: <<101,118>>.
func erlangBinary(s string) string {
	var b strings.Builder
	b.WriteString("<<")
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(s[i])))
	}
	b.WriteString(">>")
	return b.String()
}

// parseReplicas reads the replica lines, in key order of first appearance.
func parseReplicas(out string) ([]drivers.KeyReplicas, error) {
	var res []drivers.KeyReplicas
	at := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, replicaLine+" ") {
			continue
		}
		f := strings.SplitN(line, " ", 7)
		if len(f) < 6 {
			return nil, fmt.Errorf("riak: replica line %q: too few fields", line)
		}
		key, rr := f[1], drivers.ReplicaRead{Partition: f[2], Node: f[3], Primary: f[4] == "primary"}
		rest := ""
		if len(f) == 7 {
			rest = f[6]
		}
		switch f[5] {
		case "notfound":
		case "found":
			if err := readSiblings(&rr, rest); err != nil {
				return nil, fmt.Errorf("riak: replica line %q: %w", line, err)
			}
		case "error":
			rr.Error = rest
		default:
			return nil, fmt.Errorf("riak: replica line %q: unknown answer %q", line, f[5])
		}
		i, ok := at[key]
		if !ok {
			i = len(res)
			at[key] = i
			res = append(res, drivers.KeyReplicas{Key: key})
		}
		res[i].Replicas = append(res[i].Replicas, rr)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// readSiblings fills rr from "HEX,tomb,…": the value with the highest
// evalrun sequence (the newest write) is the one reported; a replica whose
// siblings are all tombstones holds a delete.
func readSiblings(rr *drivers.ReplicaRead, list string) error {
	rr.Found = true
	rr.Tombstone = true
	var best uint64
	for _, s := range strings.Split(list, ",") {
		if s == "" {
			continue
		}
		rr.Values++
		if s == "tomb" {
			continue
		}
		h, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("sibling %q: %w", s, err)
		}
		rr.Tombstone = false
		seq := uint64(0)
		if len(h) >= 16 {
			seq = binary.BigEndian.Uint64(h[8:16]) // evalrun's header: magic, key, sequence
		}
		if rr.Header == nil || seq >= best {
			rr.Header, best = h, seq
		}
	}
	if rr.Values == 0 {
		return errors.New("found, but no sibling listed")
	}
	return nil
}
