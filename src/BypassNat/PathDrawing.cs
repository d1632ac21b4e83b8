using System.Collections.Generic;
using System.Linq;
using System.Text;
using BypassNat.Diagnosis;

namespace BypassNat.Commands
{
    /// <summary>
    /// Debug-BypassForward's picture of a forward: the path internet -> main router -> bypass router
    /// -> device, one hop a line with its state and what shows it, at most 80 columns, coloured when
    /// the host shows colour (the format view passes $PSStyle; PowerShell strips the colour again
    /// where output is redirected). Called from BypassNat.Format.ps1xml.
    /// </summary>
    public static class PathDrawing
    {
        private const int Width = 80;
        private static readonly string Indent = new string(' ', 28);

        public static string Draw(ForwardDiagnosis diagnosis, bool colour)
        {
            var text = new StringBuilder();
            text.Append(diagnosis.Name).Append(" (").Append(diagnosis.Protocol).Append(") on ").Append(diagnosis.ComputerName).Append(": ")
                .Append(Paint(diagnosis.Status.ToString(), StatusColour(diagnosis.Status), colour)).Append('\n');
            text.Append("  internet\n");
            foreach (PathHop hop in diagnosis.Path)
            {
                string head = "  -> " + hop.Hop.PadRight(14) + " ";
                string state = Label(hop.State);
                text.Append(head).Append(Paint(state, HopColour(hop.State), colour)).Append(new string(' ', 8 - state.Length));
                AppendWrapped(text, hop.Detail, Width - Indent.Length);
            }

            if (diagnosis.Cause != null)
            {
                text.Append("  Cause: ");
                AppendWrapped(text, diagnosis.Cause, Width - 9, "         ");
            }

            if (diagnosis.Fix != null)
            {
                text.Append("  Fix:   ");
                AppendWrapped(text, diagnosis.Fix, Width - 9, "         ");
            }

            return text.ToString();
        }

        private static string Label(HopState state) =>
            state == HopState.Ok ? "ok" : state == HopState.Failed ? "FAILED" : state == HopState.NotNeeded ? "n/a" : "?";

        // ANSI SGR colours: green, red, yellow, dim.
        private static string HopColour(HopState state) =>
            state == HopState.Ok ? "32" : state == HopState.Failed ? "31;1" : state == HopState.Unknown ? "33" : "2";

        private static string StatusColour(DiagnosisStatus status) =>
            status == DiagnosisStatus.Ok ? "32" : status == DiagnosisStatus.NoTraffic || status == DiagnosisStatus.NotAllowed ? "33" : "31;1";

        private static string Paint(string text, string sgr, bool colour) => colour ? "\u001b[" + sgr + "m" + text + "\u001b[0m" : text;

        /// <summary>Word-wraps <paramref name="detail"/> to <paramref name="width"/>, later lines indented to the first's column.</summary>
        private static void AppendWrapped(StringBuilder text, string detail, int width, string indent = null)
        {
            var line = new StringBuilder();
            var lines = new List<string>();
            foreach (string word in (detail ?? string.Empty).Split(' ').Where(w => w.Length > 0))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }

                if (line.Length > 0) line.Append(' ');
                line.Append(word);
            }

            lines.Add(line.ToString());
            text.Append(lines[0]).Append('\n');
            foreach (string more in lines.Skip(1)) text.Append(indent ?? Indent).Append(more).Append('\n');
        }
    }
}
