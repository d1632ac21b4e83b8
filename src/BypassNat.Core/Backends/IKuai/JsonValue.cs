using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.IKuai
{
    public enum JsonKind
    {
        Null,
        Boolean,
        Number,
        String,
        Array,
        Object,
    }

    /// <summary>
    /// The JSON of iKuai's API, read and written here rather than through a JSON package: the core
    /// shares PowerShell's load context, where a second copy of a JSON library (PowerShell carries its
    /// own Newtonsoft and System.Text.Json) would clash. The shapes are small: objects, arrays, strings,
    /// numbers. Firmware that answers a bare <c>nil</c> for an empty value reads as null.
    /// </summary>
    public sealed class JsonValue
    {
        public static readonly JsonValue Null = new JsonValue(JsonKind.Null, null);

        private readonly object _value;

        private JsonValue(JsonKind kind, object value)
        {
            Kind = kind;
            _value = value;
        }

        public JsonKind Kind { get; }

        public static JsonValue Text(string text) => text == null ? Null : new JsonValue(JsonKind.String, text);
        public static JsonValue Number(long number) => new JsonValue(JsonKind.Number, number.ToString(CultureInfo.InvariantCulture));
        public static JsonValue Bool(bool value) => new JsonValue(JsonKind.Boolean, value);
        public static JsonValue Array(IEnumerable<JsonValue> items) => new JsonValue(JsonKind.Array, items.ToList());

        /// <summary>An object whose members keep the order given (the API's answers do not depend on it, logs read better).</summary>
        public static JsonValue Object(IEnumerable<KeyValuePair<string, JsonValue>> members) =>
            new JsonValue(JsonKind.Object, members.ToList());

        public static JsonValue Object(params (string Name, JsonValue Value)[] members) =>
            Object(members.Select(m => new KeyValuePair<string, JsonValue>(m.Name, m.Value)));

        public IReadOnlyList<JsonValue> Items => Kind == JsonKind.Array ? (List<JsonValue>)_value : new List<JsonValue>();

        public IReadOnlyList<KeyValuePair<string, JsonValue>> Members =>
            Kind == JsonKind.Object ? (List<KeyValuePair<string, JsonValue>>)_value : new List<KeyValuePair<string, JsonValue>>();

        /// <summary>A member of an object (the last one of that name), or <see cref="Null"/> when there is none.</summary>
        public JsonValue this[string name]
        {
            get
            {
                JsonValue found = Null;
                foreach (KeyValuePair<string, JsonValue> member in Members)
                    if (member.Key == name) found = member.Value;
                return found;
            }
        }

        public bool Has(string name) => Members.Any(m => m.Key == name);

        /// <summary>
        /// A scalar as text, whatever its JSON type: the API sends ids and ports as numbers or as
        /// strings depending on the version. Null for null, arrays and objects.
        /// </summary>
        public string AsText()
        {
            switch (Kind)
            {
                case JsonKind.String:
                case JsonKind.Number: return (string)_value;
                case JsonKind.Boolean: return (bool)_value ? "true" : "false";
                default: return null;
            }
        }

        public long? AsNumber() =>
            long.TryParse(AsText(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n : (long?)null;

        public override string ToString()
        {
            var text = new StringBuilder();
            Write(text);
            return text.ToString();
        }

        private void Write(StringBuilder text)
        {
            switch (Kind)
            {
                case JsonKind.Null: text.Append("null"); break;
                case JsonKind.Boolean: text.Append((bool)_value ? "true" : "false"); break;
                case JsonKind.Number: text.Append((string)_value); break;
                case JsonKind.String: WriteString(text, (string)_value); break;
                case JsonKind.Array:
                    text.Append('[');
                    for (int i = 0; i < Items.Count; i++)
                    {
                        if (i > 0) text.Append(',');
                        Items[i].Write(text);
                    }

                    text.Append(']');
                    break;
                default:
                    text.Append('{');
                    for (int i = 0; i < Members.Count; i++)
                    {
                        if (i > 0) text.Append(',');
                        WriteString(text, Members[i].Key);
                        text.Append(':');
                        Members[i].Value.Write(text);
                    }

                    text.Append('}');
                    break;
            }
        }

        // Non-ASCII stays as it is (UTF-8 on the wire): a Chinese comment goes as the web UI sends it.
        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (c < 0x20) text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else text.Append(c);
                        break;
                }
            }

            text.Append('"');
        }

        /// <summary>Reads one JSON document; a <see cref="FormatException"/> says where it stopped making sense.</summary>
        public static JsonValue Parse(string json)
        {
            var reader = new Reader(json ?? string.Empty);
            JsonValue value = reader.ReadValue(0);
            reader.SkipBlanks();
            if (!reader.AtEnd) throw reader.Fail("text after the end of the JSON value");
            return value;
        }

        private sealed class Reader
        {
            // Deep enough for any answer of the API; bounded so a hostile answer cannot exhaust the stack.
            private const int MaxDepth = 64;
            private readonly string _text;
            private int _at;

            public Reader(string text) => _text = text;

            public bool AtEnd => _at >= _text.Length;

            public FormatException Fail(string what) => new FormatException($"Not JSON at character {_at + 1}: {what}.");

            public void SkipBlanks()
            {
                while (!AtEnd && (_text[_at] == ' ' || _text[_at] == '\t' || _text[_at] == '\n' || _text[_at] == '\r' || _text[_at] == '\uFEFF')) _at++;
            }

            public JsonValue ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Fail("nested too deeply");
                SkipBlanks();
                if (AtEnd) throw Fail("the text ended where a value was expected");
                char c = _text[_at];
                switch (c)
                {
                    case '{': return ReadObject(depth);
                    case '[': return ReadArray(depth);
                    case '"': return new JsonValue(JsonKind.String, ReadString());
                    case 't': Expect("true"); return Bool(true);
                    case 'f': Expect("false"); return Bool(false);
                    case 'n':
                        if (string.CompareOrdinal(_text, _at, "nil", 0, 3) == 0)
                        {
                            _at += 3;
                            return Null;
                        }

                        Expect("null");
                        return Null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                        throw Fail($"unexpected '{c}'");
                }
            }

            private void Expect(string word)
            {
                if (string.CompareOrdinal(_text, _at, word, 0, word.Length) != 0) throw Fail($"expected {word}");
                _at += word.Length;
            }

            private JsonValue ReadNumber()
            {
                int start = _at;
                if (_text[_at] == '-') _at++;
                while (!AtEnd && ("0123456789.eE+-".IndexOf(_text[_at]) >= 0)) _at++;
                string number = _text.Substring(start, _at - start);
                if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) throw Fail($"'{number}' is no number");
                return new JsonValue(JsonKind.Number, number);
            }

            private string ReadString()
            {
                _at++;
                var text = new StringBuilder();
                while (true)
                {
                    if (AtEnd) throw Fail("a string was not closed");
                    char c = _text[_at++];
                    if (c == '"') return text.ToString();
                    if (c != '\\')
                    {
                        text.Append(c);
                        continue;
                    }

                    if (AtEnd) throw Fail("a string was not closed");
                    char e = _text[_at++];
                    switch (e)
                    {
                        case '"': text.Append('"'); break;
                        case '\\': text.Append('\\'); break;
                        case '/': text.Append('/'); break;
                        case 'b': text.Append('\b'); break;
                        case 'f': text.Append('\f'); break;
                        case 'n': text.Append('\n'); break;
                        case 'r': text.Append('\r'); break;
                        case 't': text.Append('\t'); break;
                        case 'u':
                            if (_at + 4 > _text.Length || !int.TryParse(_text.Substring(_at, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                                throw Fail("a \\u escape needs four hex digits");
                            text.Append((char)code);
                            _at += 4;
                            break;
                        default: throw Fail($"unknown escape \\{e}");
                    }
                }
            }

            private JsonValue ReadArray(int depth)
            {
                _at++;
                var items = new List<JsonValue>();
                SkipBlanks();
                if (!AtEnd && _text[_at] == ']')
                {
                    _at++;
                    return new JsonValue(JsonKind.Array, items);
                }

                while (true)
                {
                    items.Add(ReadValue(depth + 1));
                    SkipBlanks();
                    if (AtEnd) throw Fail("an array was not closed");
                    char c = _text[_at++];
                    if (c == ']') return new JsonValue(JsonKind.Array, items);
                    if (c != ',') throw Fail("expected ',' or ']'");
                }
            }

            private JsonValue ReadObject(int depth)
            {
                _at++;
                var members = new List<KeyValuePair<string, JsonValue>>();
                SkipBlanks();
                if (!AtEnd && _text[_at] == '}')
                {
                    _at++;
                    return new JsonValue(JsonKind.Object, members);
                }

                while (true)
                {
                    SkipBlanks();
                    if (AtEnd || _text[_at] != '"') throw Fail("expected a member name");
                    string name = ReadString();
                    SkipBlanks();
                    if (AtEnd || _text[_at++] != ':') throw Fail("expected ':'");
                    members.Add(new KeyValuePair<string, JsonValue>(name, ReadValue(depth + 1)));
                    SkipBlanks();
                    if (AtEnd) throw Fail("an object was not closed");
                    char c = _text[_at++];
                    if (c == '}') return new JsonValue(JsonKind.Object, members);
                    if (c != ',') throw Fail("expected ',' or '}'");
                }
            }
        }
    }
}
