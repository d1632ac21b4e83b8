using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Reads a piped record's fields as PowerShell's binding by property name would: any property
    /// whose name is a field's (in any case), its value converted to text as the binder converts it
    /// to a [string] parameter (a [string[]] for AllowedSource); a missing property is no value. Where
    /// the binder of a compiled cmdlet silently leaves a field empty (a list where one value is
    /// expected, a value that cannot become text), this says so as a problem of the row.
    /// </summary>
    internal static class PipelineRecord
    {
        public const string InvalidValue = "BypassNat.InvalidValue";

        // The one-text fields, each with how to read and set it on a ForwardInput (AllowedSource, a list
        // by nature, is read apart).
        private static readonly (string Name, Func<ForwardInput, string> Get, Action<ForwardInput, string> Set)[] TextFields =
        {
            (nameof(ForwardInput.Name), f => f.Name, (f, v) => f.Name = v),
            (nameof(ForwardInput.Protocol), f => f.Protocol, (f, v) => f.Protocol = v),
            (nameof(ForwardInput.ExternalPort), f => f.ExternalPort, (f, v) => f.ExternalPort = v),
            (nameof(ForwardInput.BypassAddress), f => f.BypassAddress, (f, v) => f.BypassAddress = v),
            (nameof(ForwardInput.BypassPort), f => f.BypassPort, (f, v) => f.BypassPort = v),
            (nameof(ForwardInput.InternalAddress), f => f.InternalAddress, (f, v) => f.InternalAddress = v),
            (nameof(ForwardInput.InternalPort), f => f.InternalPort, (f, v) => f.InternalPort = v),
            (nameof(ForwardInput.SourceNat), f => f.SourceNat, (f, v) => f.SourceNat = v),
            (nameof(ForwardInput.Comment), f => f.Comment, (f, v) => f.Comment = v),
            (nameof(ForwardInput.Enabled), f => f.Enabled, (f, v) => f.Enabled = v),
            (nameof(ForwardInput.PublicAddress), f => f.PublicAddress, (f, v) => f.PublicAddress = v),
            (nameof(ForwardInput.InternalIPv6), f => f.InternalIPv6, (f, v) => f.InternalIPv6 = v),
        };

        /// <summary>The record set's way: every field read here; a value that is no text is a problem of the row.</summary>
        public static ForwardInput Read(PSObject record, int row, List<ForwardIssue> issues)
        {
            var input = new ForwardInput();
            if (record == null) return input;
            PSMemberInfoCollection<PSPropertyInfo> properties = record.Properties;
            foreach (var field in TextFields) field.Set(input, Text(properties[field.Name]?.Value, field.Name, row, issues));
            object sources = properties[nameof(ForwardInput.AllowedSource)]?.Value;
            input.AllowedSource = Unwrap(sources) is string one ? one
                : Converted(sources, typeof(string[]), nameof(ForwardInput.AllowedSource), row, issues) is string[] many ? string.Join(" ", many) : null;
            object sources6 = properties[nameof(ForwardInput.AllowedSourceIPv6)]?.Value;
            input.AllowedSourceIPv6 = Unwrap(sources6) is string one6 ? one6
                : Converted(sources6, typeof(string[]), nameof(ForwardInput.AllowedSourceIPv6), row, issues) is string[] many6 ? string.Join(" ", many6) : null;
            return input;
        }

        /// <summary>
        /// The fields set's way, after PowerShell bound the fields: a field it left empty although the
        /// record has a value for it is a value it could not take (it says nothing of it itself).
        /// </summary>
        public static void CheckDropped(PSObject record, ForwardInput bound, int row, List<ForwardIssue> issues)
        {
            if (record == null) return;
            PSMemberInfoCollection<PSPropertyInfo> properties = record.Properties;
            foreach (var field in TextFields)
            {
                object value = properties[field.Name]?.Value;
                if (field.Get(bound) != null || value == null) continue;
                int before = issues.Count;
                Text(value, field.Name, row, issues);
                if (issues.Count == before)
                    issues.Add(new ForwardIssue(InvalidValue, row, field.Name, Describe(value), "PowerShell could not bind it as text"));
            }
        }

        // A CSV cell is a string already: no conversion, and no lookup in LanguagePrimitives' cache.
        private static string Text(object value, string field, int row, List<ForwardIssue> issues)
        {
            object inner = Unwrap(value);
            if (inner == null || inner is string) return (string)inner;
            if (inner is IEnumerable list)
            {
                int count = list.Cast<object>().Count();
                issues.Add(new ForwardIssue(InvalidValue, row, field, Describe(value), $"a list of {count} value(s) where one is expected"));
                return null;
            }

            return (string)Converted(value, typeof(string), field, row, issues);
        }

        // As the binder converts: the value as PowerShell sees it, in the current culture; null and a
        // problem of the row when it cannot.
        private static object Converted(object value, Type type, string field, int row, List<ForwardIssue> issues)
        {
            if (value == null) return null;
            try
            {
                return LanguagePrimitives.ConvertTo(value, type, CultureInfo.CurrentCulture);
            }
            catch (Exception e) when (e is InvalidCastException || e is ArgumentException || e is RuntimeException)
            {
                issues.Add(new ForwardIssue(InvalidValue, row, field, Describe(value), "it cannot be read as text: " + e.Message));
                return null;
            }
        }

        private static object Unwrap(object value) => value is PSObject wrapped ? wrapped.BaseObject : value;

        // What the error shows as the value: the list's items, the first few, as PowerShell would write them.
        private static string Describe(object value)
        {
            object inner = Unwrap(value);
            if (inner is IEnumerable list && !(inner is string))
            {
                List<object> items = list.Cast<object>().Take(6).ToList();
                return string.Join(" ", items.Take(5).Select(i => SafeText(i))) + (items.Count > 5 ? " ..." : string.Empty);
            }

            return SafeText(value);
        }

        private static string SafeText(object value)
        {
            try
            {
                return value?.ToString() ?? string.Empty;
            }
            catch (Exception)
            {
                return "(" + Unwrap(value).GetType().Name + ")";
            }
        }
    }
}
