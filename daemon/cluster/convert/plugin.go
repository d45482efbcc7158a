package convert

import (
	"github.com/moby/moby/api/types/swarm"
	"google.golang.org/protobuf/encoding/protowire"
)

// The payload of a plugin-runtime task (types.docker.com/RuntimePlugin) is
// dockerd's PluginSpec protobuf message:
//
//	message PluginSpec { string name = 1; string remote = 2;
//	  repeated PluginPrivilege privileges = 3; bool disabled = 4;
//	  repeated string env = 5; }
//	message PluginPrivilege { string name = 1; string description = 2;
//	  repeated string value = 3; }
//
// It is encoded by hand here so that the package needs no generated code.

// marshalPluginSpec encodes s as dockerd's PluginSpec message.
func marshalPluginSpec(s *swarm.RuntimeSpec) []byte {
	var b []byte
	b = appendString(b, 1, s.Name)
	b = appendString(b, 2, s.Remote)
	for _, p := range s.Privileges {
		if p == nil {
			continue
		}
		var pb []byte
		pb = appendString(pb, 1, p.Name)
		pb = appendString(pb, 2, p.Description)
		for _, v := range p.Value {
			pb = protowire.AppendTag(pb, 3, protowire.BytesType)
			pb = protowire.AppendString(pb, v)
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, pb)
	}
	if s.Disabled {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	for _, e := range s.Env {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendString(b, e)
	}
	return b
}

// appendString appends a proto3 string field, omitted when empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// unmarshalPluginSpec decodes dockerd's PluginSpec message; unknown fields
// are skipped.
func unmarshalPluginSpec(b []byte) (*swarm.RuntimeSpec, error) {
	s := &swarm.RuntimeSpec{}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			s.Name = string(v)
		case num == 2 && typ == protowire.BytesType:
			s.Remote = string(v)
		case num == 3 && typ == protowire.BytesType:
			p := &swarm.RuntimePrivilege{}
			if err := walkFields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case 1:
					p.Name = string(v)
				case 2:
					p.Description = string(v)
				case 3:
					p.Value = append(p.Value, string(v))
				}
				return nil
			}); err != nil {
				return err
			}
			s.Privileges = append(s.Privileges, p)
		case num == 4 && typ == protowire.VarintType:
			s.Disabled = n != 0
		case num == 5 && typ == protowire.BytesType:
			s.Env = append(s.Env, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// walkFields calls fn for each field of the message b: v is the payload
// of a length-delimited field, n the value of a varint one.
func walkFields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		var (
			v []byte
			n uint64
		)
		switch typ {
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(b)
		default:
			l = protowire.ConsumeFieldValue(num, typ, b)
		}
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if err := fn(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}
