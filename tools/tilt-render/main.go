// tilt-render: runs a Tiltfile without Tilt and prints what it asked for, as JSON.
//
// The Tiltfile is executed by go.starlark.net, the Starlark interpreter Tilt itself embeds, with Tilt's
// dialect options (top-level if/for, reassigned globals, sets, recursion). The Tilt built-ins the
// repository's Tiltfile uses are stand-ins that check their arguments against Tilt's documented
// signatures (an unknown or misspelt keyword is an error, as in Tilt) and record each call:
//
//	{"calls": [{"fn": "docker_build", "args": ["agora-catalog", "."], "kwargs": {"target": "dev", …}}, …]}
//
// helm() returns a placeholder {"$helm": N} (N = index of that helm call) that k8s_yaml records.
// Nothing is built, rendered or deployed; render the recorded helm() calls with helm separately.
//
// Usage: tilt-render TILTFILE [-- TILTFILE ARGS…]   e.g. tilt-render Tiltfile -- --istio --canary order
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

type call struct {
	Fn     string                 `json:"fn"`
	Args   []interface{}          `json:"args"`
	Kwargs map[string]interface{} `json:"kwargs"`
}

var calls []call
var helmCalls int

// Tilt's signatures (https://docs.tilt.dev/api.html): positional parameters in order, then keyword-only
// ones. A name with "?" is optional.
var signatures = map[string][]string{
	"docker_build": {"ref", "context", "build_args?", "dockerfile?", "dockerfile_contents?", "live_update?",
		"match_in_env_vars?", "ignore?", "only?", "entrypoint?", "target?", "ssh?", "network?", "secret?",
		"extra_tag?", "container_args?", "cache_from?", "pull?", "platform?", "env_vars?"},
	"helm": {"pathToChartDir", "name?", "namespace?", "values?", "set?", "kube_version?", "skip_crds?"},
	"k8s_yaml": {"yaml", "allow_duplicates?"},
	"k8s_resource": {"workload?", "new_name?", "port_forwards?", "extra_pod_selectors?", "trigger_mode?",
		"resource_deps?", "objects?", "auto_init?", "pod_readiness?", "links?", "labels?", "discovery_strategy?"},
	"allow_k8s_contexts": {"contexts"},
	"sync":               {"local_path", "remote_path"},
	"fall_back_on":       {"files"},
	"run":                {"cmd", "trigger?", "echo_off?"},
	"local_resource": {"name", "cmd?", "deps?", "trigger_mode?", "resource_deps?", "ignore?", "auto_init?",
		"serve_cmd?", "cmd_bat?", "serve_cmd_bat?", "allow_parallel?", "links?", "tags?", "env?", "serve_env?",
		"readiness_probe?", "dir?", "serve_dir?", "labels?"},
}

func toJSON(v starlark.Value) interface{} {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(x)
	case starlark.Int:
		i, _ := x.Int64()
		return i
	case starlark.Float:
		return float64(x)
	case starlark.String:
		return string(x)
	case *starlark.List:
		out := []interface{}{}
		for i := 0; i < x.Len(); i++ {
			out = append(out, toJSON(x.Index(i)))
		}
		return out
	case starlark.Tuple:
		out := []interface{}{}
		for _, e := range x {
			out = append(out, toJSON(e))
		}
		return out
	case *starlark.Dict:
		out := map[string]interface{}{}
		for _, item := range x.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				k = item[0].String()
			}
			out[k] = toJSON(item[1])
		}
		return out
	case *starlarkstruct.Struct:
		out := map[string]interface{}{}
		for _, name := range x.AttrNames() {
			attr, _ := x.Attr(name)
			out[name] = toJSON(attr)
		}
		return out
	default:
		return v.String()
	}
}

// recorder is a built-in that checks its arguments against a signature and records the call.
func recorder(name string) *starlark.Builtin {
	params := signatures[name]
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		pairs := []interface{}{}
		holders := make([]starlark.Value, len(params))
		for i, p := range params {
			pairs = append(pairs, p, &holders[i])
		}
		if err := starlark.UnpackArgs(name, args, kwargs, pairs...); err != nil {
			return nil, err
		}
		c := call{Fn: name, Args: []interface{}{}, Kwargs: map[string]interface{}{}}
		for _, a := range args {
			c.Args = append(c.Args, toJSON(a))
		}
		for _, kv := range kwargs {
			c.Kwargs[string(kv[0].(starlark.String))] = toJSON(kv[1])
		}
		calls = append(calls, c)
		switch name {
		case "helm":
			helmCalls++
			return starlarkstruct.FromStringDict(starlark.String("helm"), starlark.StringDict{"$helm": starlark.MakeInt(helmCalls - 1)}), nil
		case "sync", "fall_back_on", "run":
			d := starlark.StringDict{"$step": starlark.String(name)}
			for i, p := range params {
				if holders[i] != nil {
					d[strings.TrimSuffix(p, "?")] = holders[i]
				}
			}
			return starlarkstruct.FromStringDict(starlark.String(name), d), nil
		}
		return starlark.None, nil
	})
}

type flagDef struct {
	kind string // bool or string
}

// configModule is Tilt's `config`: define_bool / define_string / define_string_list, then parse().
func configModule(argv []string) *starlarkstruct.Module {
	defs := map[string]flagDef{}
	define := func(kind string) *starlark.Builtin {
		return starlark.NewBuiltin("config.define_"+kind, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name string
			var positional bool
			var usage string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "args?", &positional, "usage?", &usage); err != nil {
				return nil, err
			}
			defs[name] = flagDef{kind: kind}
			return starlark.None, nil
		})
	}
	parse := starlark.NewBuiltin("config.parse", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
			return nil, err
		}
		out := starlark.NewDict(len(argv))
		for i := 0; i < len(argv); i++ {
			a := argv[i]
			if !strings.HasPrefix(a, "--") {
				return nil, fmt.Errorf("config.parse: unexpected argument %q", a)
			}
			name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			def, ok := defs[name]
			if !ok {
				return nil, fmt.Errorf("config.parse: unknown flag --%s", name)
			}
			switch def.kind {
			case "bool":
				out.SetKey(starlark.String(name), starlark.Bool(!hasValue || value == "true"))
			case "string", "string_list":
				if !hasValue {
					if i+1 >= len(argv) {
						return nil, fmt.Errorf("config.parse: --%s needs a value", name)
					}
					i++
					value = argv[i]
				}
				if def.kind == "string" {
					out.SetKey(starlark.String(name), starlark.String(value))
				} else {
					prev, found, _ := out.Get(starlark.String(name))
					list := starlark.NewList(nil)
					if found {
						list = prev.(*starlark.List)
					}
					list.Append(starlark.String(value))
					out.SetKey(starlark.String(name), list)
				}
			}
		}
		return out, nil
	})
	return &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
		"define_bool":        define("bool"),
		"define_string":      define("string"),
		"define_string_list": define("string_list"),
		"parse":              parse,
	}}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tilt-render TILTFILE [-- ARGS…]")
		os.Exit(2)
	}
	file := os.Args[1]
	argv := os.Args[2:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	resolve.AllowGlobalReassign = true
	resolve.AllowSet = true
	resolve.AllowRecursion = true

	predeclared := starlark.StringDict{"config": configModule(argv)}
	names := make([]string, 0, len(signatures))
	for name := range signatures {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		predeclared[name] = recorder(name)
	}
	thread := &starlark.Thread{Name: "Tiltfile", Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(os.Stderr, msg) }}
	if _, err := starlark.ExecFile(thread, file, nil, predeclared); err != nil {
		if evalErr, ok := err.(*starlark.EvalError); ok {
			fmt.Fprintln(os.Stderr, evalErr.Backtrace())
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(map[string]interface{}{"calls": calls}, "", "  ")
	fmt.Println(string(out))
}
