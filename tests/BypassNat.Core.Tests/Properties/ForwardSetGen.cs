using System.Collections.Generic;
using System.Linq;
using CsCheck;
using BypassNat.Validation;

namespace BypassNat.Tests.Properties
{
    /// <summary>
    /// Random forward sets that a user could legitimately write: every row valid and the set free of
    /// conflicts, but otherwise anything goes — ranges, remapped ports, both protocols, source NAT,
    /// disabled rows, a public address, allowed sources, and comments full of quotes, shell syntax and Unicode.
    /// </summary>
    internal static class ForwardSetGen
    {
        // Text a user may put in a comment, chosen to break quoting in shells, nft and iptables.
        // Whole characters only: a UTF-8 CSV cannot hold half of a surrogate pair (the parser refuses one).
        private static readonly string[] CommentText =
        {
            "a", "b", "X", "0", "9", " ", "\"", "'", "`", "$", "(", ")", "$(reboot)", ";", "&", "|", "<", ">", "\\", "{", "}", "#",
            "%", "%41", "=", ",", ".", "-", "_", "~", "*", "?", "!", "旁", "路", "由", "转发", "服务器", "ゲーム", "É", "ç", "ü", "ß", "€", "😀", "👍🏽",
        };

        private static readonly Gen<string> Comment = Gen.OneOf(
            Gen.Const(string.Empty),
            Gen.OneOf(CommentText).Array[1, 24].Select(parts => string.Concat(parts)));

        private static readonly Gen<string> NameStem =
            Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"],
                Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"].Array[0, 24],
                (first, rest) => first + new string(rest));

        private static readonly Gen<string> Protocol = Gen.OneOf("tcp", "udp", "TcpUdp", "TCP", "Udp", "tcp+udp", "both");

        private static readonly Gen<string> Device = Gen.OneOf(
            Gen.Int[10, 250].Select(n => "192.0.2." + n),
            Gen.Int[1, 254].Select(n => "198.51.100." + n));

        // AllowedSource as a user writes it: addresses and aligned prefixes in the documentation ranges,
        // any separator, sometimes nested or repeated (the parser keeps one canonical set).
        private static readonly Gen<string> SourceEntry = Gen.OneOf(
            Gen.Select(Gen.OneOf("192.0.2.", "198.51.100.", "203.0.113."), Gen.Int[0, 255], (net, host) => net + host),
            Gen.Select(Gen.OneOf("192.0.2.", "198.51.100.", "203.0.113."), Gen.Int[24, 31], Gen.Int[0, 255],
                (net, length, host) => $"{net}{host & ~((1 << (32 - length)) - 1) & 255}/{length}"));

        private static readonly Gen<string> AllowedSource = Gen.Frequency(
            (5, Gen.Const((string)null)),
            (5, Gen.Select(SourceEntry.Array[1, 6], Gen.OneOf(" ", ";", " ; ", ",", "  "),
                (entries, separator) => string.Join(separator, entries))));

        /// <summary>One row as text; slot <paramref name="i"/> keeps its ports clear of every other slot's.</summary>
        private static Gen<ForwardInput> Row(int i, string publicAddress) =>
            Gen.Select(NameStem, Protocol, Gen.Frequency((7, Gen.Const(1)), (3, Gen.Int[2, 40])), Gen.Int[0, 59], Gen.Bool, Gen.Int[1, 60000])
                .SelectMany(t => Gen.Select(Device, Gen.Bool, Comment, Gen.Frequency((6, Gen.Const("true")), (1, Gen.Const("false"))), Gen.Bool, AllowedSource)
                    .Select(u =>
                    {
                        (string stem, string protocol, int count, int offset, bool remapDevice, int deviceStart) = t;
                        (string device, bool sourceNat, string comment, string enabled, bool defaultBypassPort, string allowedSource) = u;
                        int bypass = 1000 + i * 100, external = 20000 + i * 100 + offset;
                        string Range(int start) => count == 1 ? start.ToString() : $"{start}-{start + count - 1}";
                        return new ForwardInput
                        {
                            Name = stem + "-" + i,
                            Protocol = protocol,
                            ExternalPort = Range(external),
                            BypassAddress = "192.0.2.2",
                            BypassPort = defaultBypassPort ? null : Range(bypass),
                            InternalAddress = device,
                            InternalPort = remapDevice ? Range(deviceStart) : null,
                            SourceNat = sourceNat ? "true" : "false",
                            Comment = comment,
                            Enabled = enabled,
                            PublicAddress = publicAddress,
                            AllowedSource = allowedSource,
                        };
                    }));

        /// <summary>Rows that parse; a row whose comment is too long once encoded is dropped, as the parser would refuse it.</summary>
        public static readonly Gen<List<BypassForward>> Set =
            Gen.Select(Gen.Int[1, 12], Gen.OneOf(Gen.Const((string)null), Gen.Int[2, 254].Select(n => "203.0.113." + n)))
                .SelectMany(t =>
                {
                    (int size, string publicAddress) = t;
                    IEnumerable<Gen<ForwardInput>> rows = Enumerable.Range(1, size).Select(i => Row(i, publicAddress));
                    return Sequence(rows.ToList());
                })
                .Select(inputs => inputs
                    .Select((input, index) => ForwardParser.Parse(input, index + 1, out IReadOnlyList<ForwardIssue> _))
                    .Where(f => f != null).ToList())
                .Where(set => set.Count > 0);

        private static Gen<List<T>> Sequence<T>(List<Gen<T>> gens)
        {
            Gen<List<T>> all = Gen.Const(new List<T>()).Select(_ => new List<T>());
            foreach (Gen<T> gen in gens)
                all = Gen.Select(all, gen, (list, item) => { var next = new List<T>(list) { item }; return next; });
            return all;
        }
    }
}
