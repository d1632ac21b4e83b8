using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace BypassNat.Commands
{
    /// <summary>
    /// Tab completion for -Name: the forwards this session last read from the router named by
    /// -ComputerName (or from any router), never a connection of its own.
    /// </summary>
    public sealed class ForwardNameCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var pattern = new WildcardPattern((wordToComplete ?? string.Empty).Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return RecentForwards.Names(Routers(fakeBoundParameters))
                .Where(pattern.IsMatch)
                .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
        }

        private static IEnumerable<string> Routers(IDictionary bound)
        {
            object value = bound?.Contains("ComputerName") == true ? bound["ComputerName"] : null;
            if (value is PSObject wrapped) value = wrapped.BaseObject;
            if (value is string one) return new[] { one };
            if (value is IEnumerable many) return many.Cast<object>().Select(v => v?.ToString());
            return null;
        }
    }
}
