using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using BypassNat.Backends.IKuai;

namespace BypassNat.Tests.IKuai
{
    /// <summary>
    /// tests/lab/ikuai_sim.py on this machine's loopback, rendering nothing (no --chain): the real
    /// HTTP and TLS exchange with the API's checks, without a network namespace. Killed by its pid.
    /// </summary>
    internal sealed class IKuaiSimulator : IDisposable
    {
        public const string User = "admin";
        public const string Password = "s3cret 密码";
        public const string Token = "tok-4f1c2e9a";

        private readonly Process _process;

        public string Dir { get; }
        public int HttpPort { get; }
        public int HttpsPort { get; }
        public string Fingerprint { get; }
        public int Version { get; }

        /// <summary>Why it cannot run here; null when python3 and openssl are there.</summary>
        public static string Unavailable() =>
            Which("python3") == null ? "needs python3" : Which("openssl") == null ? "needs openssl" : null;

        public IKuaiSimulator(int version, string seed = null, string passVariant = "plain")
        {
            Version = version;
            Dir = Path.Combine(Path.GetTempPath(), "bnikuai-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            Directory.CreateDirectory(Dir);
            Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", Path.Combine(Dir, "key.pem"), "-out", Path.Combine(Dir, "cert.pem"), "-days", "2", "-subj", "/CN=ikuai.test");
            Fingerprint = Run("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", Path.Combine(Dir, "cert.pem")).Trim();
            HttpPort = FreePort();
            HttpsPort = FreePort();
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (string argument in new[]
                     {
                         Script, "--version", version.ToString(), "--addr", "127.0.0.1", "--state", Dir,
                         "--http-port", HttpPort.ToString(), "--https-port", HttpsPort.ToString(),
                         "--cert", Path.Combine(Dir, "cert.pem"), "--key", Path.Combine(Dir, "key.pem"),
                         "--user", User, "--password", Password, "--token", Token, "--pass-variant", passVariant,
                     })
                start.ArgumentList.Add(argument);
            if (seed != null)
            {
                start.ArgumentList.Add("--seed");
                start.ArgumentList.Add(seed);
            }

            _process = Process.Start(start);
            for (int i = 0; i < 100 && !File.Exists(Path.Combine(Dir, "ready")); i++)
            {
                if (_process.HasExited) throw new InvalidOperationException("ikuai_sim.py exited: " + _process.StandardError.ReadToEnd());
                Thread.Sleep(50);
            }
        }

        private static string Script
        {
            get
            {
                for (string dir = AppContext.BaseDirectory; dir != null; dir = Path.GetDirectoryName(dir))
                {
                    string candidate = Path.Combine(dir, "tests", "lab", "ikuai_sim.py");
                    if (File.Exists(candidate)) return candidate;
                }

                throw new FileNotFoundException("tests/lab/ikuai_sim.py");
            }
        }

        public IKuaiSettings Settings(bool https = true) => new IKuaiSettings
        {
            ComputerName = "127.0.0.1",
            Version = Version == 3 ? IKuaiApiVersion.V3 : IKuaiApiVersion.V4,
            UseHttps = https,
            Port = https ? HttpsPort : HttpPort,
            UserName = User,
            Password = Password,
            ApiToken = Token,
            CertificateFingerprints = new[] { Fingerprint },
            KnownCertificatesFile = Path.Combine(Dir, CertificateTrust.FileName),
            Timeout = TimeSpan.FromSeconds(30),
        };

        public JsonValue Status() => JsonValue.Parse(File.ReadAllText(Path.Combine(Dir, "status.json")));

        public long Count(string what) => Status()[what].AsNumber() ?? -1;

        /// <summary>Expires every 3.x session: the next call answers Result 10014.</summary>
        public void ExpireSessions()
        {
            long before = Count("sessions");
            Run("kill", "-USR1", _process.Id.ToString());
            for (int i = 0; i < 50 && Count("sessions") != 0; i++) Thread.Sleep(20);
            if (before == 0) throw new InvalidOperationException("no session to expire");
        }

        /// <summary>Sends a control.json command (edit a row behind the API's back, fail the Nth write).</summary>
        public void Control(string json)
        {
            File.WriteAllText(Path.Combine(Dir, "control.json"), json);
            string status = File.ReadAllText(Path.Combine(Dir, "status.json"));
            Run("kill", "-USR2", _process.Id.ToString());
            for (int i = 0; i < 50 && File.ReadAllText(Path.Combine(Dir, "status.json")) == status; i++) Thread.Sleep(20);
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill();
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
            Directory.Delete(Dir, true);
        }

        private static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        private static string Run(string tool, params string[] arguments)
        {
            var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in arguments) start.ArgumentList.Add(argument);
            using (Process process = Process.Start(start))
            {
                var error = process.StandardError.ReadToEndAsync();
                string output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} failed: {error.Result}");
                return output;
            }
        }

        private static string Which(string tool) =>
            (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
    }
}
