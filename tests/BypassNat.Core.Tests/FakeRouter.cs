using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using BypassNat.Ssh;
using Xunit;
using BypassNat.Registry;
using BypassNat.Backends.Uci;

namespace BypassNat.Tests
{
    /// <summary>What a router script asks the fake router to do, told from what the script says, not from its bytes.</summary>
    internal enum RouterStep
    {
        Probe,
        Addresses,
        PersistedCheck,
        Generation,
        /// <summary>How a transparent proxy captures traffic (the bypass hop's survey).</summary>
        ProxyProbe,
        /// <summary>BypassNat's IPv6 chains (ip6tables-save; the survey of either hop): the fake router has none.</summary>
        Ipv6Read,
        ReadNftables,
        /// <summary>A listing of the nftables table after a load in the same command.</summary>
        ReadBackNftables,
        Read,
        /// <summary>A read of the rules after a load in the same command.</summary>
        ReadBack,
        Save,
        Load,
        Conntrack,
        Uninstall,
        /// <summary>A write's first section: stops it while an earlier -ConfirmTimeout watchdog waits.</summary>
        PendingCheck,
        /// <summary>-ConfirmTimeout: keeps the rollback and starts the watchdog.</summary>
        ConfirmStart,
        /// <summary>-ConfirmTimeout: the confirmation through a new connection.</summary>
        Confirm,
        /// <summary>-ConfirmTimeout: what became of the watchdog, asked without changing anything.</summary>
        ConfirmOutcome,
        /// <summary><c>uci show firewall</c> on an OpenWrt main router.</summary>
        UciRead,
        /// <summary>The UCI batch, commit and firewall4 reload as one step (UciTransaction).</summary>
        UciTransaction,

        /// <summary>Not understood: the fake refuses to guess, and the test fails.</summary>
        Other,
    }

    /// <summary>How the fake router misbehaves at one step.</summary>
    internal sealed class Fault
    {
        private Fault()
        {
        }

        /// <summary>Whether the step's effect takes place at all.</summary>
        public bool Effect { get; private set; } = true;
        public int ExitCode { get; private set; }
        public string Error { get; private set; } = string.Empty;
        public bool DropBefore { get; private set; }
        public bool DropAfter { get; private set; }

        /// <summary>What the step prints instead of the truth (a lying listing); null for the truth.</summary>
        public Func<FakeRouter, string> Output { get; private set; }

        /// <summary>How many more times it fires.</summary>
        public int Remaining { get; set; } = int.MaxValue;

        /// <summary>Refused: nothing happens, the step exits non-zero with the router's message.</summary>
        public static Fault Refuse(string error, int exitCode = 1) => new Fault { Effect = false, ExitCode = exitCode, Error = error };

        /// <summary>Claims success and does nothing (an nft wrapper that loads nothing).</summary>
        public static Fault Pretend() => new Fault { Effect = false };

        /// <summary>Does part of its work, then fails (a save that wrote the ruleset file, then could not enable a unit).</summary>
        public static Fault FailAfterEffect(string error) => new Fault { ExitCode = 1, Error = error };

        /// <summary>The connection drops as the step starts: nothing of it happens.</summary>
        public static Fault Drop() => new Fault { Effect = false, DropBefore = true };

        /// <summary>The step completes on the router, then the connection drops before its answer arrives.</summary>
        public static Fault DropAfterEffect() => new Fault { DropAfter = true };

        /// <summary>The command runs past the command timeout: the connection gives up on it before its answer.</summary>
        public static Fault TimeOutAfterEffect() => new Fault { DropAfter = true, CutId = "BypassNat.CommandTimeout" };

        /// <summary>The error id the connection throws when it drops.</summary>
        public string CutId { get; private set; } = "BypassNat.ConnectionLost";

        /// <summary>Prints something else than the truth, and succeeds.</summary>
        public static Fault Lie(Func<FakeRouter, string> output) => new Fault { Output = output };

        public Fault Once()
        {
            Remaining = 1;
            return this;
        }

        /// <summary>How many occurrences of the step pass untouched before it fires.</summary>
        public int Skipped { get; set; }

        /// <summary>Lets the first <paramref name="count"/> occurrences of the step pass untouched.</summary>
        public Fault After(int count)
        {
            Skipped = count;
            return this;
        }
    }

    /// <summary>
    /// A router behind <see cref="IRouterConnector"/> that keeps real state (an iptables nat table, the
    /// files -Persist writes, the lock's generation token) and answers BypassNat's scripts by reading
    /// what each asks for: the sections of a <see cref="Backends.SectionedScript"/> (their bodies,
    /// and whether a failure stops the script), the rules in a load's here-document, the files in a
    /// save's. It lies, fails and drops where a test injects a <see cref="Fault"/>. Connections come
    /// and go; the router's state stays, as a real router's does.
    /// </summary>
    internal sealed class FakeRouter : IRouterConnector
    {
        /// <summary>The hop whose files the router's -Persist state is read from (<see cref="Persisted"/>, <see cref="SavedForwards"/>).</summary>
        public RouterHop Hop { get; set; } = RouterHop.Bypass;

        /// <summary>The backend whose rules <see cref="LiveForwards"/> and <see cref="SavedForwards"/> read.</summary>
        public Backends.BackendKind Holding { get; set; } = Backends.BackendKind.Iptables;

        private string Directory => Hop.Directory;

        public FakeIptables Nat { get; } = new FakeIptables();

        /// <summary>The nftables tables the kernel holds, by name ("ip bypassnat"), as nft lists them.</summary>
        public Dictionary<string, string> NftTables { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>An OpenWrt firewall config: section name to its type and options, in the order uci shows them.</summary>
        public List<KeyValuePair<string, Dictionary<string, string>>> Uci { get; } = new List<KeyValuePair<string, Dictionary<string, string>>>();

        /// <summary>The token of a -ConfirmTimeout watchdog waiting for its confirmation; null when none waits.</summary>
        public string PendingToken { get; set; }

        /// <summary>The rollback the waiting watchdog runs when it fires (<see cref="FireWatchdog"/>).</summary>
        public string PendingRollback { get; private set; }

        /// <summary>The token of the last watchdog that rolled back.</summary>
        public string RolledBackToken { get; private set; }

        /// <summary>The exit status the last rollback reported, and what it printed.</summary>
        public int RollbackStatus { get; private set; }

        public string RollbackLog { get; private set; } = string.Empty;

        /// <summary>A reboot while the watchdog waits: its state in /run is gone, and nothing ran.</summary>
        public void ForgetWatchdog()
        {
            PendingToken = null;
            PendingRollback = null;
        }

        /// <summary>Every script the router could not tell the purpose of; a test that sends one fails.</summary>
        public List<string> UnknownScripts { get; } = new List<string>();

        /// <summary>Files on the router: path to content.</summary>
        public Dictionary<string, string> Files { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

        public string Generation { get; set; } = "none";

        public Dictionary<RouterStep, Fault> Faults { get; } = new Dictionary<RouterStep, Fault>();

        /// <summary>Every step the router carried out (or was asked to and refused), in order, over all connections.</summary>
        public List<RouterStep> Steps { get; } = new List<RouterStep>();

        public int Connections { get; private set; }

        /// <summary>Every script the router was sent, whole.</summary>
        public List<string> Scripts { get; } = new List<string>();

        /// <summary>What the backend probe finds: by default iptables (nf_tables flavour) and no nft, as on many Debian boxes.</summary>
        public string ProbeOutput { get; set; } = "iptables=iptables v1.8.9 (nf_tables)\n";

        public bool Persisted => Files.ContainsKey(Directory + "/restore.sh");

        // Reads as BypassNat reads the backend, on the WAN interface the fake's addresses give the main router.
        private Backends.IScriptedBackend Reader(Backends.BackendKind kind) =>
            (Backends.IScriptedBackend)BackendRegistry.Create(kind, new BackendSite(Hop, null, "eth0"));

        /// <summary>The forwards the saved set would restore (empty when there is none).</summary>
        public List<BypassForward> SavedForwards
        {
            get
            {
                Backends.IScriptedBackend reader = Reader(Holding);
                if (!Files.TryGetValue(Directory + "/" + reader.SavedFile, out string saved)) return new List<BypassForward>();
                return reader.ParseRead(Holding == Backends.BackendKind.Iptables && !saved.Contains("*nat") ? "*nat\n" + saved : saved).Forwards;
            }
        }

        /// <summary>The forwards the router holds in <see cref="Holding"/>, read as BypassNat reads them.</summary>
        public List<BypassForward> LiveForwards =>
            Holding == Backends.BackendKind.Uci ? new UciBackend().Read(BypassNat.Backends.Uci.UciReader.Parse(UciShow())).Forwards : Reader(Holding).ParseRead(Listing(Holding)).Forwards;

        private string Listing(Backends.BackendKind kind) =>
            kind == Backends.BackendKind.Nftables ? (NftTables.TryGetValue(Hop.NftTable, out string table) ? table : string.Empty) : Nat.Save();

        public IRouterConnection Connect(SshSettings settings, HostKeyTrust trust, System.Threading.CancellationToken cancel)
        {
            if (!trust.Accept("ssh-ed25519", new byte[] { 1, 2, 3 }, PresentedFingerprint))
                throw new BypassNatException(trust.RefusalId, FailureKind.SecurityError, trust.Refusal, settings.Endpoint);
            Connections++;
            var connection = new Connection(this, settings);
            _connections.Add(connection);
            return connection;
        }

        private readonly List<Connection> _connections = new List<Connection>();

        /// <summary>
        /// Every open connection dies without the client noticing (a router that rebooted behind a NAT
        /// that keeps the flow): it still says it is connected, and its next command fails before the
        /// router receives it, as SSH.NET's does when the channel cannot be opened.
        /// </summary>
        public void DropConnectionsUnnoticed()
        {
            foreach (Connection connection in _connections) connection.DeadUnnoticed = true;
        }

        public const string FakeFingerprint = "ZmFrZSByb3V0ZXIga2V5LCB0aGlydHktdHdvIGJ5dGU";

        /// <summary>The host key's fingerprint the router presents (another one: a router reinstalled, or an impostor).</summary>
        public string PresentedFingerprint { get; set; } = FakeFingerprint;

        public void CheckLogin(SshSettings settings)
        {
        }

        private sealed class Connection : IRouterConnection
        {
            private readonly FakeRouter _router;
            private readonly SshSettings _settings;
            private bool _open = true;

            public Connection(FakeRouter router, SshSettings settings)
            {
                _router = router;
                _settings = settings;
            }

            public string Login => "key (fake)";
            public bool IsConnected => _open;

            public bool DeadUnnoticed { get; set; }

            public CommandResult Run(string script)
            {
                // A closed connection sends nothing, as the real connector's does.
                if (!_open || DeadUnnoticed)
                    throw new CommandNotSentException($"The SSH connection to {_settings.Endpoint} failed before the router received a command.", _settings.Endpoint);
                try
                {
                    return _router.Execute(script);
                }
                catch (DroppedException dropped)
                {
                    _open = false;
                    throw dropped.ErrorId == "BypassNat.CommandTimeout"
                        ? new BypassNatException(dropped.ErrorId, FailureKind.ConnectionError,
                            $"A command on {_settings.Endpoint} did not finish within {_settings.CommandTimeout.TotalSeconds:0} s (-CommandTimeout), so its SSH connection was closed.", _settings.Endpoint)
                        : Lost();
                }
            }

            // The errors the real connector throws when the channel closes under a command.
            private BypassNatException Lost() =>
                new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                    $"The SSH connection to {_settings.Endpoint} closed before a command finished.", _settings.Endpoint);

            public void Abort() => _open = false;

            public void Dispose() => _open = false;
        }

        private sealed class DroppedException : Exception
        {
            public DroppedException(string errorId) => ErrorId = errorId;

            public string ErrorId { get; }
        }

        private static readonly Regex SectionPattern = new Regex(
            @"(?<fn>bypassnat_section_\d+)\(\) \{\n(?<body>.*?)\}\nprintf '%s\\n' '(?<marker>@@bypassnat-\w+) begin (?<name>[^']+)'\n(?<rest>.*?)(?=bypassnat_section_\d+\(\) \{\n|exit 0\n\}\n\z)",
            RegexOptions.Singleline);

        private CommandResult Execute(string script)
        {
            Scripts.Add(script);
            // A writing script starts with the router-side lock (RouterLock): check and replace the generation.
            Match expected = Regex.Match(script, @"if \[ ""\$bypassnat_generation"" != '(?<token>[^']*)' \]");
            if (expected.Success && expected.Groups["token"].Value != Generation)
                return new CommandResult(76, string.Empty, "bypassnat-changed: another writer (fake)\n");
            Match next = Regex.Match(script, @"printf '%s\\n' '(?<token>[A-Za-z0-9._-]+)' > ""\$bypassnat_lockdir/generation""");
            if (next.Success) Generation = next.Groups["token"].Value;

            MatchCollection sections = SectionPattern.Matches(script);
            if (sections.Count == 0)
            {
                RouterStep step = Classify(script, loaded: false);
                if (step == RouterStep.Other) Unknown(script);
                (int exit, string output, string error) = Step(step, script);
                return new CommandResult(exit, output, error);
            }

            var whole = new StringBuilder();
            bool loaded = false;
            foreach (Match section in sections)
            {
                string name = section.Groups["name"].Value, marker = section.Groups["marker"].Value, body = section.Groups["body"].Value;
                RouterStep step = Classify(body, loaded);
                loaded |= step == RouterStep.Load;
                if (step == RouterStep.Other) Unknown(body);
                (int exit, string output, string error) = Step(step, body);
                whole.Append(marker).Append(" begin ").Append(name).Append('\n').Append(output)
                    .Append('\n').Append(marker).Append(" stderr ").Append(name).Append('\n').Append(error.TrimEnd('\n'))
                    .Append('\n').Append(marker).Append(" end ").Append(name).Append(' ').Append(exit).Append('\n');
                bool stops = section.Groups["rest"].Value.Contains("[ \"$bypassnat_status\" -eq 0 ] || exit \"$bypassnat_status\"");
                if (stops && exit != 0) return new CommandResult(exit, whole.ToString(), string.Empty);
            }

            return new CommandResult(0, whole.ToString(), string.Empty);
        }

        /// <summary>A script the fake does not understand fails the test that sent it, instead of succeeding silently.</summary>
        private void Unknown(string script)
        {
            UnknownScripts.Add(script);
            throw new InvalidOperationException("The fake router does not know what this script asks for; teach FakeRouter.Classify the step:\n" + script);
        }

        internal static RouterStep Classify(string body, bool loaded)
        {
            // The watchdog's start first: its rollback holds a save, a load and a removal of its own.
            if (body.Contains("<<'BYPASSNAT_ROLLBACK'")) return RouterStep.ConfirmStart;
            if (body.Contains("echo confirm=confirmed")) return RouterStep.Confirm;
            if (body.Contains("echo confirm=waiting")) return RouterStep.ConfirmOutcome;
            if (body.Contains("bypassnat-confirm-pending: ")) return RouterStep.PendingCheck;
            // A save first: the restore script it writes holds an iptables-restore of its own.
            if (body.Contains("<<'BYPASSNAT_FILE'")) return RouterStep.Save;
            if (body.Contains("uci batch")) return RouterStep.UciTransaction;
            if (body.Contains("uci show firewall")) return RouterStep.UciRead;
            if (body.Contains("nft --version") || body.Contains("iptables --version")) return RouterStep.Probe;
            if (body.Contains("ip6tables-save")) return RouterStep.Ipv6Read;
            if (body.Contains("echo '@mangle'")) return RouterStep.ProxyProbe;
            if (body.Contains("iptables-restore --noflush") || body.Contains("nft -f -")) return RouterStep.Load;
            if (body.Contains("rm -rf /etc/bypassnat")) return RouterStep.Uninstall;
            if (body.Contains("conntrack-deleted=")) return RouterStep.Conntrack;
            if (body.Contains("ip -4 -o addr show")) return RouterStep.Addresses;
            if (body.Contains("echo persisted=yes") || body.Contains("echo installed")) return RouterStep.PersistedCheck;
            if (body.Contains("/generation\" 2>/dev/null || echo none")) return RouterStep.Generation;
            if (body.Contains("nft -nn list table")) return loaded ? RouterStep.ReadBackNftables : RouterStep.ReadNftables;
            if (body.Contains("iptables-save -t nat")) return loaded ? RouterStep.ReadBack : RouterStep.Read;
            return RouterStep.Other;
        }

        private (int Exit, string Output, string Error) Step(RouterStep step, string body)
        {
            Steps.Add(step);
            Fault fault = null;
            if (Faults.TryGetValue(step, out Fault candidate) && candidate.Skipped > 0)
                candidate.Skipped--;
            else if (candidate != null && candidate.Remaining > 0)
            {
                fault = candidate;
                fault.Remaining--;
            }

            if (fault != null && fault.DropBefore) throw new DroppedException(fault.CutId);
            (int exit, string output, string error) = fault == null || fault.Effect ? Do(step, body) : (0, string.Empty, string.Empty);
            if (fault != null && fault.DropAfter) throw new DroppedException(fault.CutId);
            if (fault?.Output != null) output = fault.Output(this);
            if (fault != null && fault.ExitCode != 0) return (fault.ExitCode, output, fault.Error);
            return (exit, output, error);
        }

        private (int, string, string) Do(RouterStep step, string body)
        {
            switch (step)
            {
                case RouterStep.Probe:
                    return (0, ProbeOutput, string.Empty);
                case RouterStep.Addresses:
                    return (0, "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n--routes--\ndefault via 192.0.2.1 dev eth0\n", string.Empty);
                case RouterStep.PersistedCheck:
                    return (0, body.Contains("echo installed") ? (Persisted ? "installed\n" : "none\n") : (Persisted ? "persisted=yes\n" : string.Empty), string.Empty);
                case RouterStep.Generation:
                    return (0, Generation + "\n", string.Empty);
                case RouterStep.ProxyProbe:
                case RouterStep.Ipv6Read:
                    return (0, string.Empty, string.Empty);
                case RouterStep.ReadNftables:
                case RouterStep.ReadBackNftables:
                    Match listed = Regex.Match(body, @"nft -nn list table (?<table>\w+ \w+)");
                    return (0, NftTables.TryGetValue(listed.Groups["table"].Value, out string table) ? table : string.Empty, string.Empty);
                case RouterStep.Read:
                case RouterStep.ReadBack:
                    return (0, Nat.Save(), string.Empty);
                case RouterStep.Conntrack:
                    return (0, "conntrack-deleted=0\n", string.Empty);
                case RouterStep.Load:
                    string rules = HereDocument(body, "BYPASSNAT_RULES");
                    string refusal = body.Contains("nft -f -") ? LoadNft(rules) : Nat.Restore(rules);
                    return refusal == null ? (0, string.Empty, string.Empty) : (3, string.Empty, refusal);
                case RouterStep.PendingCheck:
                    return PendingToken != null ? (77, string.Empty, "bypassnat-confirm-pending: 1700000060\n") : (0, string.Empty, string.Empty);
                case RouterStep.ConfirmStart:
                    return StartWatchdog(body);
                case RouterStep.Confirm:
                case RouterStep.ConfirmOutcome:
                    string token = Regex.Match(body, @""" = '(?<token>\w+)' \]").Groups["token"].Value;
                    if (token.Length > 0 && token == PendingToken)
                    {
                        if (step == RouterStep.ConfirmOutcome) return (0, "confirm=waiting\n", string.Empty);
                        PendingToken = null;
                        PendingRollback = null;
                        Files.Remove(Directory + "/confirm-pending.sh");
                        return (0, "confirm=confirmed\n", string.Empty);
                    }

                    return (0, token.Length > 0 && token == RolledBackToken ? $"confirm=rolled-back {RollbackStatus}\n" + RollbackLog : "confirm=gone\n", string.Empty);
                case RouterStep.UciRead:
                    return (0, UciShow(), string.Empty);
                case RouterStep.UciTransaction:
                    return UciBatch(HereDocument(body, "BYPASSNAT_UCI"));
                case RouterStep.Save:
                    return Save(body);
                case RouterStep.Uninstall:
                    // Every file the script's rm lines name, and every file under a directory they name.
                    foreach (Match rm in Regex.Matches(body, @"\brm -r?f (?<paths>[^\n]+)"))
                        foreach (string path in rm.Groups["paths"].Value.Split(' ').Where(p => p.StartsWith("/", StringComparison.Ordinal)))
                            foreach (string file in Files.Keys.Where(f => f == path || f.StartsWith(path + "/", StringComparison.Ordinal)).ToList())
                                Files.Remove(file);
                    return (0, string.Empty, string.Empty);
                default:
                    return (0, string.Empty, string.Empty);
            }
        }

        private (int, string, string) Save(string body)
        {
            bool install = !body.Contains("echo persisted=updated");
            if (!install && !Persisted) return (0, "persisted=none\n", string.Empty);
            foreach (Match file in Regex.Matches(body, @"put (?<path>\S+) <<'BYPASSNAT_FILE'\n(?<content>.*?)BYPASSNAT_FILE\n", RegexOptions.Singleline))
                Files[file.Groups["path"].Value] = file.Groups["content"].Value;
            foreach (string stale in Regex.Matches(body, @"rm -f (" + Regex.Escape(Directory) + @"/ruleset\.\w+)").Cast<Match>().Select(m => m.Groups[1].Value))
                Files.Remove(stale);
            return (0, install ? "persisted=systemd\n" : "persisted=updated\n", string.Empty);
        }

        /// <summary>An <c>nft -f</c> file as the kernel takes it: each "delete table" drops that table, each "table NAME {" block becomes it.</summary>
        private string LoadNft(string ruleset)
        {
            var tables = new Dictionary<string, string>(NftTables, StringComparer.Ordinal);
            foreach (Match delete in Regex.Matches(ruleset, @"^delete table (?<name>\w+ \w+)$", RegexOptions.Multiline))
                if (!tables.Remove(delete.Groups["name"].Value) && !Regex.IsMatch(ruleset, @"^table " + Regex.Escape(delete.Groups["name"].Value) + "$", RegexOptions.Multiline))
                    return $"Error: Could not process rule: No such file or directory\ndelete table {delete.Groups["name"].Value}";
            foreach (Match block in Regex.Matches(ruleset, @"^table (?<name>\w+ \w+) \{\n.*?^\}\n", RegexOptions.Multiline | RegexOptions.Singleline))
                tables[block.Groups["name"].Value] = block.Value;
            NftTables.Clear();
            foreach (KeyValuePair<string, string> table in tables) NftTables[table.Key] = table.Value;
            return null;
        }

        /// <summary><c>uci show firewall</c> of the fake config.</summary>
        public string UciShow()
        {
            var text = new StringBuilder();
            foreach (KeyValuePair<string, Dictionary<string, string>> section in Uci)
            {
                text.Append("firewall.").Append(section.Key).Append('=').Append(section.Value[".type"]).Append('\n');
                foreach (KeyValuePair<string, string> option in section.Value.Where(o => o.Key != ".type"))
                    text.Append("firewall.").Append(section.Key).Append('.').Append(option.Key).Append("='").Append(option.Value.Replace("'", "'\\''")).Append("'\n");
            }

            return text.ToString();
        }

        /// <summary>A batch of set and delete lines, committed and loaded whole, or refused whole.</summary>
        private (int, string, string) UciBatch(string batch)
        {
            var config = Uci.Select(s => new KeyValuePair<string, Dictionary<string, string>>(s.Key, new Dictionary<string, string>(s.Value))).ToList();
            foreach (string line in batch.Split('\n').Where(l => l.Length > 0))
            {
                Match set = Regex.Match(line, @"^set firewall\.(?<section>\w+)(?:\.(?<option>\w+))?='?(?<value>.*?)'?$");
                Match delete = Regex.Match(line, @"^delete firewall\.(?<section>\w+)$");
                if (delete.Success)
                {
                    config.RemoveAll(s => s.Key == delete.Groups["section"].Value);
                    continue;
                }

                if (!set.Success) return (4, string.Empty, $"uci refused the batch (unknown line {line}); rolled back: the previous firewall config is restored and loaded");
                string name = set.Groups["section"].Value;
                int at = config.FindIndex(s => s.Key == name);
                if (!set.Groups["option"].Success)
                {
                    if (at < 0) config.Add(new KeyValuePair<string, Dictionary<string, string>>(name, new Dictionary<string, string> { [".type"] = set.Groups["value"].Value }));
                    continue;
                }

                if (at < 0) return (4, string.Empty, $"uci refused the batch (no section {name}); rolled back: the previous firewall config is restored and loaded");
                config[at].Value[set.Groups["option"].Value] = set.Groups["value"].Value.Replace("'\\''", "'");
            }

            Uci.Clear();
            Uci.AddRange(config);
            return (0, string.Empty, string.Empty);
        }

        /// <summary>Keeps the rollback the start script writes and starts waiting; refused while another watchdog waits.</summary>
        private (int, string, string) StartWatchdog(string body)
        {
            if (PendingToken != null) return (77, string.Empty, "bypassnat-confirm-pending: 1700000060\n");
            PendingToken = Regex.Match(body, @"printf '%s\\n' '(?<token>\w+)' > ""\$d\.token""").Groups["token"].Value;
            PendingRollback = HereDocument(body, "BYPASSNAT_ROLLBACK");
            if (body.Contains("if true; then")) Files[Directory + "/confirm-pending.sh"] = PendingRollback;
            int timeout = int.Parse(Regex.Match(body, @"echo \$\(\(now \+ (?<seconds>\d+)\)\)").Groups["seconds"].Value);
            return (0, $"confirm-now=1700000000\nconfirm-deadline={1700000000 + timeout}\n", string.Empty);
        }

        /// <summary>
        /// The watchdog's timeout runs out unconfirmed: the rollback it was given runs, step by step as
        /// the router's shell would run it (each backend's rules, then the saved set).
        /// </summary>
        /// <param name="failure">A rollback that fails: nothing of it runs, and it reports this on its log.</param>
        public void FireWatchdog(string failure = null)
        {
            if (PendingToken == null) throw new InvalidOperationException("No watchdog waits on the fake router.");
            RollbackStatus = failure == null ? 0 : 1;
            RollbackLog = failure == null ? string.Empty : "confirm-log: " + failure + "\n";
            if (failure != null)
            {
                RolledBackToken = PendingToken;
                PendingToken = null;
                PendingRollback = null;
                return;
            }

            string rollback = PendingRollback;
            foreach (Match nft in Regex.Matches(rollback, @"nft -f - <<'BYPASSNAT_RULES'\n(?<rules>.*?)^BYPASSNAT_RULES$", RegexOptions.Singleline | RegexOptions.Multiline))
                Assert.Null(LoadNft(nft.Groups["rules"].Value));
            foreach (Match chains in Regex.Matches(rollback, @"cat <<'BYPASSNAT_RULES'\n(?<rules>.*?)^BYPASSNAT_RULES$", RegexOptions.Singleline | RegexOptions.Multiline))
            {
                string restore = chains.Groups["rules"].Value;
                foreach (Match jump in Regex.Matches(rollback, @"\|\| echo '(?<jump>-I (?<chain>PREROUTING|POSTROUTING) 1 -j (?<target>\w+))'"))
                    if (!Nat.Save().Contains($"-A {jump.Groups["chain"].Value} -j {jump.Groups["target"].Value}\n")) restore += jump.Groups["jump"].Value + "\n";
                Assert.Null(Nat.Restore((restore.Contains("*nat") ? string.Empty : "*nat\n") + restore + "COMMIT\n"));
            }

            foreach (Match removal in Regex.Matches(rollback, @"grep -x -- '-A (?<chain>PREROUTING|POSTROUTING) -j (?<target>\w+)' \| sed"))
            {
                string jump = $"-A {removal.Groups["chain"].Value} -j {removal.Groups["target"].Value}\n";
                string listing = Nat.Save();
                string undo = "*nat\n";
                while (listing.Contains(jump)) { undo += "-D" + jump.Substring(2); listing = listing.Remove(listing.IndexOf(jump, StringComparison.Ordinal), jump.Length); }
                if (Nat.Save().Contains(":" + removal.Groups["target"].Value + " ")) undo += $"-F {removal.Groups["target"].Value}\n-X {removal.Groups["target"].Value}\n";
                Assert.Null(Nat.Restore(undo + "COMMIT\n"));
            }

            if (rollback.Contains("<<'BYPASSNAT_FILE'")) Save(rollback);
            else if (rollback.Contains("rm -rf /etc/bypassnat")) Do(RouterStep.Uninstall, rollback);
            Files.Remove(Directory + "/confirm-pending.sh");
            RolledBackToken = PendingToken;
            PendingToken = null;
            PendingRollback = null;
        }

        private static string HereDocument(string body, string delimiter)
        {
            Match document = Regex.Match(body, "<<'" + delimiter + "'[^\n]*\n(?<text>.*?)^" + delimiter + "$", RegexOptions.Singleline | RegexOptions.Multiline);
            if (!document.Success) throw new InvalidOperationException("The fake router found no " + delimiter + " here-document in:\n" + body);
            return document.Groups["text"].Value;
        }
    }

    /// <summary>
    /// The nat table of a fake kernel, changed by iptables-restore --noflush transactions as the
    /// real one is: all or nothing, a rule that names a missing chain refuses the whole transaction.
    /// </summary>
    internal sealed class FakeIptables
    {
        private static readonly string[] Builtin = { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" };
        private Dictionary<string, List<string>> _chains = Builtin.ToDictionary(c => c, c => new List<string>(), StringComparer.Ordinal);
        private List<string> _order = Builtin.ToList();

        /// <summary>Applies a transaction; returns the kernel's refusal, or null when it took it.</summary>
        public string Restore(string transaction)
        {
            var chains = _chains.ToDictionary(c => c.Key, c => new List<string>(c.Value), StringComparer.Ordinal);
            var order = new List<string>(_order);
            int number = 0;
            foreach (string raw in transaction.Split('\n'))
            {
                number++;
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith("#") || line == "*nat" || line == "COMMIT") continue;
                string[] words = line.Split(' ');
                if (line.StartsWith(":"))
                {
                    string chain = words[0].Substring(1);
                    if (!chains.ContainsKey(chain)) { chains[chain] = new List<string>(); order.Add(chain); }
                    else chains[chain].Clear();
                    continue;
                }

                string name = words.Length > 1 ? words[1] : string.Empty;
                if (!chains.TryGetValue(name, out List<string> rules)) return $"iptables-restore: line {number} failed: chain {name} does not exist";
                string rule = string.Join(" ", words.Skip(words[0] == "-I" ? 3 : 2));
                string target = Regex.Match(rule, @"-j (\S+)").Groups[1].Value;
                if ((words[0] == "-A" || words[0] == "-I") && target.StartsWith("BYPASSNAT", StringComparison.Ordinal) && !chains.ContainsKey(target))
                    return $"iptables-restore: line {number} failed: Couldn't load target `{target}'";
                switch (words[0])
                {
                    case "-A": rules.Add(rule); break;
                    case "-I": rules.Insert(Math.Min(int.Parse(words[2]) - 1, rules.Count), rule); break;
                    case "-D":
                        if (!rules.Remove(rule)) return $"iptables-restore: line {number} failed: Bad rule (does a matching rule exist in that chain?)";
                        break;
                    case "-F": rules.Clear(); break;
                    case "-X":
                        if (rules.Count > 0 || chains.Values.Any(r => r.Any(x => x.EndsWith("-j " + name)))) return $"iptables-restore: line {number} failed: chain {name} is in use";
                        chains.Remove(name);
                        order.Remove(name);
                        break;
                    default: return $"iptables-restore: line {number} failed: unknown command {words[0]}";
                }
            }

            _chains = chains;
            _order = order;
            return null;
        }

        /// <summary>The table as <c>iptables-save -t nat</c> prints it.</summary>
        public string Save()
        {
            var text = new StringBuilder("*nat\n");
            foreach (string chain in _order) text.Append(':').Append(chain).Append(Builtin.Contains(chain) ? " ACCEPT [0:0]\n" : " - [0:0]\n");
            foreach (string chain in _order)
                foreach (string rule in _chains[chain]) text.Append("-A ").Append(chain).Append(' ').Append(rule).Append('\n');
            text.Append("COMMIT\n");
            return text.ToString();
        }
    }
}
