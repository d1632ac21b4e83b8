using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Diagnosis
{
    /// <summary>
    /// Whether each forward's device answers on its TCP port when the bypass router itself connects
    /// (the router is on the device's LAN, so the answer comes back whatever the device's gateway is):
    /// this tells "the device does not listen" from "the device answers through another gateway".
    /// </summary>
    public static class DevicePortProbe
    {
        /// <summary>What the probe found: "open", "closed", or "unknown" (UDP, or no nc/socat on the router).</summary>
        public const string Open = "open", Closed = "closed", Unknown = "unknown";

        /// <summary>
        /// One line a target, "ADDRESS PORT open|closed|unknown". Addresses and ports are parsed values,
        /// never user text; each connect gives up after 2 seconds.
        /// </summary>
        public static string Script(IEnumerable<KeyValuePair<IPAddress, int>> targets)
        {
            var script = new StringBuilder();
            script.Append("bypassnat_probe() {\n");
            // An nc without -z (BusyBox's, built without it) would fail every probe and blame the device:
            // only an nc whose usage names -z is asked.
            script.Append("  if command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-z'; then nc -z -w 2 \"$1\" \"$2\" </dev/null >/dev/null 2>&1 && echo open || echo closed\n");
            script.Append("  elif command -v socat >/dev/null 2>&1; then socat -T 2 /dev/null \"TCP:$1:$2,connect-timeout=2\" >/dev/null 2>&1 && echo open || echo closed\n");
            script.Append("  elif busybox nc 2>&1 | grep -q -- '-z'; then busybox nc -z -w 2 \"$1\" \"$2\" </dev/null >/dev/null 2>&1 && echo open || echo closed\n");
            script.Append("  else echo unknown; fi\n}\n");
            foreach (KeyValuePair<IPAddress, int> target in targets.Distinct())
            {
                string port = target.Value.ToString(CultureInfo.InvariantCulture);
                script.Append("echo \"").Append(target.Key).Append(' ').Append(port).Append(" $(bypassnat_probe ")
                    .Append(target.Key).Append(' ').Append(port).Append(")\"\n");
            }

            script.Append("exit 0\n");
            return script.ToString();
        }

        public static IReadOnlyDictionary<string, string> Parse(string output)
        {
            var found = new Dictionary<string, string>();
            foreach (string line in output.Split('\n'))
            {
                string[] words = line.Trim().Split(' ');
                if (words.Length == 3 && (words[2] == Open || words[2] == Closed || words[2] == Unknown)) found[words[0] + " " + words[1]] = words[2];
            }

            return found;
        }

        /// <summary>Probes the devices' TCP ports from the router; an answer it cannot read is Unknown for every target.</summary>
        public static IReadOnlyDictionary<string, string> Run(RouterSession session, IEnumerable<KeyValuePair<IPAddress, int>> targets)
        {
            List<KeyValuePair<IPAddress, int>> list = targets.ToList();
            if (list.Count == 0) return new Dictionary<string, string>();
            CommandResult result = session.Run(RouterScript.Wrap(Script(list)), "asking the devices' ports from the router");
            return result.Succeeded ? Parse(result.Output) : new Dictionary<string, string>();
        }

        public static string Key(IPAddress address, int port) => address + " " + port.ToString(CultureInfo.InvariantCulture);
    }
}
