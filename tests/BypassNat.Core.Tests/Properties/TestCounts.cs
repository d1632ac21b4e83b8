using System;
using System.IO;

namespace BypassNat.Tests.Properties
{
    /// <summary>
    /// What a property or fault test tried (inputs, states checked, faults injected), added to the file
    /// build.ps1 prints after the run, so a green run also says how much it checked.
    /// </summary>
    internal static class TestCounts
    {
        private static readonly object Gate = new object();

        public static void Record(string what)
        {
            string file = Environment.GetEnvironmentVariable("BYPASSNAT_TEST_COUNTS");
            if (string.IsNullOrEmpty(file)) return;
            lock (Gate) File.AppendAllText(file, "xunit: " + what + Environment.NewLine);
        }
    }
}
