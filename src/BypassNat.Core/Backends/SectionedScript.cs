using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// Several router scripts run as one SSH command, each still with its own output, error text and
    /// exit code. Every round trip costs about as much as the work of a whole apply, so an apply reads
    /// everything it needs in one command and writes, cleans up and reads back in one more.
    /// </summary>
    /// <remarks>
    /// Each section is a shell function, called as <c>err=$(NAME 2&gt;&amp;1 1&gt;&amp;3)</c>: its
    /// standard output goes straight through (a listing of 100,000 elements is never held in a shell
    /// variable), its standard error is caught, and its <c>exit</c> ends only the section. Between
    /// sections the script prints marker lines with a per-script nonce, which the workstation splits
    /// the output at.
    /// </remarks>
    public sealed class SectionedScript
    {
        private readonly List<(string Name, string Body, bool StopOnFailure)> _sections = new List<(string, string, bool)>();
        private readonly string _marker;

        public SectionedScript(string nonce = null)
        {
            _marker = "@@bypassnat-" + (nonce ?? Guid.NewGuid().ToString("N").Substring(0, 12));
        }

        public int Count => _sections.Count;

        /// <summary>
        /// Adds a section and returns its handle: the result is asked for by the handle
        /// (<see cref="ScriptOutcome"/>), so the name is written once, here, and never again to parse.
        /// </summary>
        public ScriptStep Step(string name, string body, bool stopOnFailure = false)
        {
            foreach ((string taken, string _, bool _) in _sections)
                if (taken == name) throw new ArgumentException($"The script already has a section '{name}'.", nameof(name));
            Add(name, body, stopOnFailure);
            return new ScriptStep(name);
        }

        /// <summary>What the router printed for this script, asked for by each section's handle.</summary>
        public ScriptOutcome Outcome(CommandResult whole) => new ScriptOutcome(Parse(whole), whole);

        /// <summary>
        /// Adds a section. With <paramref name="stopOnFailure"/>, a non-zero exit ends the whole script
        /// after it (a refused transaction must not be followed by the conntrack clean-up).
        /// </summary>
        public SectionedScript Add(string name, string body, bool stopOnFailure = false)
        {
            if (name.Length == 0 || name.IndexOfAny(new[] { ' ', '\n', '\'' }) >= 0) throw new ArgumentException("A section name is one word.", nameof(name));
            _sections.Add((name, body, stopOnFailure));
            return this;
        }

        /// <summary>The whole script for <c>sh -s</c>, in one brace group like every router script.</summary>
        public string Render()
        {
            var script = new StringBuilder();
            for (int i = 0; i < _sections.Count; i++)
            {
                (string name, string body, bool stop) = _sections[i];
                string function = "bypassnat_section_" + i.ToString(CultureInfo.InvariantCulture);
                script.Append(function).Append("() {\n").Append(body);
                if (body.Length > 0 && !body.EndsWith("\n", StringComparison.Ordinal)) script.Append('\n');
                script.Append("}\n");
                script.Append("printf '%s\\n' '").Append(_marker).Append(" begin ").Append(name).Append("'\n");
                script.Append("{ bypassnat_err=$(").Append(function).Append(" 2>&1 1>&3 3>&-); } 3>&1\n");
                script.Append("bypassnat_status=$?\n");
                script.Append("printf '\\n%s\\n%s\\n%s %s\\n' '").Append(_marker).Append(" stderr ").Append(name)
                    .Append("' \"$bypassnat_err\" '").Append(_marker).Append(" end ").Append(name).Append("' \"$bypassnat_status\"\n");
                if (stop) script.Append("[ \"$bypassnat_status\" -eq 0 ] || exit \"$bypassnat_status\"\n");
            }

            script.Append("exit 0\n");
            return RouterScript.Wrap(script.ToString());
        }

        /// <summary>
        /// Each section that ran, as if it had been a command of its own. A section the script never
        /// reached (one before it stopped the script) is absent.
        /// </summary>
        public IReadOnlyDictionary<string, CommandResult> Parse(CommandResult whole)
        {
            var results = new Dictionary<string, CommandResult>(StringComparer.Ordinal);
            string text = whole.Output;
            int at = 0;
            while (true)
            {
                int begin = text.IndexOf(_marker + " begin ", at, StringComparison.Ordinal);
                if (begin < 0) break;
                int nameStart = begin + _marker.Length + 7;
                int lineEnd = text.IndexOf('\n', nameStart);
                if (lineEnd < 0) break;
                string name = text.Substring(nameStart, lineEnd - nameStart);
                string stderrMarker = "\n" + _marker + " stderr " + name + "\n";
                int stderrAt = text.IndexOf(stderrMarker, lineEnd, StringComparison.Ordinal);
                if (stderrAt < 0) break;
                string endMarker = "\n" + _marker + " end " + name + " ";
                int endAt = text.IndexOf(endMarker, stderrAt + stderrMarker.Length - 1, StringComparison.Ordinal);
                if (endAt < 0) break;
                int statusEnd = text.IndexOf('\n', endAt + endMarker.Length);
                if (statusEnd < 0) statusEnd = text.Length;
                string output = text.Substring(lineEnd + 1, stderrAt - lineEnd - 1);
                int errorStart = stderrAt + stderrMarker.Length;
                string error = endAt >= errorStart ? text.Substring(errorStart, endAt - errorStart) : string.Empty;
                int status = int.TryParse(text.Substring(endAt + endMarker.Length, statusEnd - endAt - endMarker.Length).Trim(),
                    NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) ? parsed : -1;
                results[name] = new CommandResult(status, output, error);
                at = statusEnd;
            }

            return results;
        }

        /// <summary>
        /// One section's result; when it is missing, the whole command's (the shell itself failed, or
        /// an earlier section stopped the script), so the caller's error still says what happened.
        /// </summary>
        public static CommandResult Section(IReadOnlyDictionary<string, CommandResult> sections, string name, CommandResult whole) =>
            sections.TryGetValue(name, out CommandResult result) ? result
                : new CommandResult(whole.ExitCode == 0 ? -1 : whole.ExitCode, string.Empty,
                    whole.Error.Trim().Length > 0 ? whole.Error : $"the router did not run the '{name}' step");
    }

    /// <summary>One section of a <see cref="SectionedScript"/>, as its builder got it back.</summary>
    public sealed class ScriptStep
    {
        internal ScriptStep(string name) => Name = name;

        public string Name { get; }
    }

    /// <summary>The result of a whole <see cref="SectionedScript"/>, section by section.</summary>
    public sealed class ScriptOutcome
    {
        private readonly IReadOnlyDictionary<string, CommandResult> _sections;

        internal ScriptOutcome(IReadOnlyDictionary<string, CommandResult> sections, CommandResult whole)
        {
            _sections = sections;
            Whole = whole;
        }

        /// <summary>The whole command's result (its warnings, its exit code).</summary>
        public CommandResult Whole { get; }

        /// <summary>The section's result; when the router never ran it, the whole command's failure (see <see cref="SectionedScript.Section"/>).</summary>
        public CommandResult this[ScriptStep step] => SectionedScript.Section(_sections, step.Name, Whole);

        /// <summary>The section's result, only when the router ran it.</summary>
        public bool TryGet(ScriptStep step, out CommandResult result) => _sections.TryGetValue(step.Name, out result);
    }
}
