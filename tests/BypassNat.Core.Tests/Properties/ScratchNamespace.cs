using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace BypassNat.Tests.Properties
{
    /// <summary>
    /// A network namespace of its own for a test, so real nft and iptables can load rulesets without
    /// touching this machine's: created on demand, deleted on dispose even when the test fails.
    /// </summary>
    internal sealed class ScratchNamespace : IDisposable
    {
        private ScratchNamespace(string name) => Name = name;

        public string Name { get; }

        /// <summary>Why the kernel tests cannot run here (not root, a tool missing); null when they can.</summary>
        public static string Unavailable(params string[] tools)
        {
            if (!string.Equals(Environment.UserName, "root", StringComparison.Ordinal))
                return "needs root for a network namespace (run as root, or build.ps1 Test as root)";
            string missing = new[] { "ip" }.Concat(tools).FirstOrDefault(t => Which(t) == null);
            return missing == null ? null : $"needs '{missing}' (apt-get install iproute2 nftables iptables)";
        }

        public static ScratchNamespace Create()
        {
            string name = "bnprop" + Guid.NewGuid().ToString("N").Substring(0, 8);
            var created = new ScratchNamespace(name);
            created.Host("netns", "add", name);
            return created;
        }

        /// <summary>Runs a tool inside the namespace with <paramref name="input"/> on its stdin.</summary>
        public (int ExitCode, string Output, string Error) Run(string input, params string[] command) =>
            Execute(input, new[] { "netns", "exec", Name }.Concat(command).ToArray());

        public void Dispose() => Execute(null, "netns", "del", Name);

        private void Host(params string[] ipArguments)
        {
            var result = Execute(null, ipArguments);
            if (result.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(" ", ipArguments)}: {result.Error}");
        }

        private static (int ExitCode, string Output, string Error) Execute(string input, params string[] ipArguments)
        {
            var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in ipArguments) start.ArgumentList.Add(argument);
            using (Process process = Process.Start(start))
            {
                var error = process.StandardError.ReadToEndAsync();
                var output = process.StandardOutput.ReadToEndAsync();
                if (input != null) process.StandardInput.Write(input);
                process.StandardInput.Close();
                process.WaitForExit();
                return (process.ExitCode, output.Result, error.Result);
            }
        }

        private static string Which(string tool) =>
            (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Concat(new[] { "/usr/sbin", "/sbin" })
                .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
    }
}
