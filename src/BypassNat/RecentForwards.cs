using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Commands
{
    /// <summary>
    /// The forward names this PowerShell session last read from each router, for tab completion of
    /// -Name: pressing Tab must never open an SSH connection, so completion offers what is already known.
    /// </summary>
    internal static class RecentForwards
    {
        private static readonly object Gate = new object();
        private static readonly Dictionary<string, string[]> ByRouter = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);

        public static void Remember(string computerName, IEnumerable<BypassForward> forwards)
        {
            if (string.IsNullOrEmpty(computerName)) return;
            string[] names = forwards.Select(f => f.Name).ToArray();
            lock (Gate) ByRouter[computerName] = names;
        }

        /// <summary>The names last read from these routers, or from every router read when none is named.</summary>
        public static IReadOnlyList<string> Names(IEnumerable<string> computerNames)
        {
            lock (Gate)
            {
                List<string> wanted = computerNames?.Where(n => !string.IsNullOrEmpty(n)).ToList() ?? new List<string>();
                IEnumerable<string[]> lists = wanted.Count == 0
                    ? ByRouter.Values
                    : wanted.Select(n => ByRouter.TryGetValue(n, out string[] found) ? found : new string[0]);
                return lists.SelectMany(l => l).Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            }
        }
    }
}
