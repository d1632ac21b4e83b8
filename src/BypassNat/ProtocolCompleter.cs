using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace BypassNat.Commands
{
    /// <summary>Tab completion for -Protocol: the protocols a forward can have, as the help names them.</summary>
    public sealed class ProtocolCompleter : IArgumentCompleter
    {
        private static readonly string[] Values = System.Enum.GetNames(typeof(ForwardProtocol));

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Values.Where(v => v.StartsWith(typed, System.StringComparison.OrdinalIgnoreCase))
                .Select(v => new CompletionResult(v, v, CompletionResultType.ParameterValue, v == "TcpUdp" ? "TCP and UDP" : v.ToUpperInvariant()));
        }
    }
}
