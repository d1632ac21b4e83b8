using System.Collections.Generic;
using System.Linq;
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using BypassNat;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Ssh;
using BypassNat.Validation;

namespace BypassNat.Benchmarks
{
    /// <summary>
    /// What an apply does on the workstation for 1,000 forwards (and a 60,000-port range): render,
    /// read back, diff, validate, and split a one-command script's output. Allocations too.
    /// </summary>
    [MemoryDiagnoser]
    public class HotPaths
    {
        private List<BypassForward> _forwards;
        private List<BypassForward> _tenThousand;
        private BypassForward[] _range;
        private ForwardInput[] _inputs;
        private string _iptablesText;
        private string _nftText;
        private SectionedScript _script;
        private CommandResult _scriptOutput;
        private RenderContext _lan;

        [GlobalSetup]
        public void Setup()
        {
            _lan = new RenderContext(new[] { new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), 24) });
            _forwards = Make(1000);
            _tenThousand = Make(10000);
            _range = new[] { new BypassForward("wide", ForwardProtocol.TcpUdp, new PortRange(2000, 61999), IPAddress.Parse("192.0.2.2"),
                new PortRange(2000, 61999), IPAddress.Parse("192.0.2.20"), new PortRange(2000, 61999)) };
            _inputs = Enumerable.Range(0, 1000).Select(i => new ForwardInput
            {
                Name = "f" + i, Protocol = "Tcp", ExternalPort = (10000 + i).ToString(), BypassAddress = "192.0.2.2", InternalAddress = "192.0.2.20",
            }).ToArray();
            _iptablesText = IptablesRenderer.RenderRestore(_forwards, new IptablesJumpRepair(), _lan);
            _nftText = NftablesRenderer.Render(_forwards, _lan);
            _script = new SectionedScript("bench").Add("load", "true").Add("read-back", "true");
            _scriptOutput = new CommandResult(0,
                "@@bypassnat-bench begin load\n\n@@bypassnat-bench stderr load\n\n@@bypassnat-bench end load 0\n" +
                "@@bypassnat-bench begin read-back\n" + _nftText + "\n@@bypassnat-bench stderr read-back\n\n@@bypassnat-bench end read-back 0\n", string.Empty);
        }

        private static List<BypassForward> Make(int count) => Enumerable.Range(0, count).Select(i => new BypassForward(
            "f" + i, ForwardProtocol.Tcp, new PortRange(10000 + i % 50000, 10000 + i % 50000), IPAddress.Parse("192.0.2." + (2 + i / 50000)),
            new PortRange(10000 + i % 50000, 10000 + i % 50000), IPAddress.Parse("192.0.2.20"), new PortRange(10000 + i % 50000, 10000 + i % 50000))).ToList();

        [Benchmark] public string RenderIptables1000() => IptablesRenderer.RenderRestore(_forwards, new IptablesJumpRepair(), _lan);
        [Benchmark] public string RenderNftables1000() => NftablesRenderer.Render(_forwards, _lan);
        [Benchmark] public string RenderNftablesRange60000() => NftablesRenderer.Render(_range, _lan);
        [Benchmark] public IptablesState ReadIptables1000() => IptablesReader.Read(_iptablesText);
        [Benchmark] public NftablesState ReadNftables1000() => NftablesReader.Read(_nftText);
        [Benchmark] public RulesetDiff Diff1000() => RulesetDiff.Compute(_forwards, _forwards);
        [Benchmark] public IReadOnlyList<ForwardIssue> Validate10000() => ForwardSetValidator.Check(_tenThousand);

        [Benchmark]
        public int Parse1000Rows()
        {
            int ok = 0;
            for (int i = 0; i < _inputs.Length; i++)
                if (ForwardParser.Parse(_inputs[i], i + 1, out _) != null) ok++;
            return ok;
        }

        [Benchmark] public int SplitScriptOutput() => _script.Parse(_scriptOutput).Count;
    }

    public static class Program
    {
        public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
