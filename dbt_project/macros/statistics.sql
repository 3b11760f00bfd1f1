{#-
  The intermediate folder's post-hook (dbt_project.yml): fresh planner statistics after a model
  writes, when they may have moved. Analysed: a table built afresh (never analysed); a table this
  night changed by more than autovacuum's threshold (50 rows + 10 %: a rebuild, a restatement, a
  first night); and any table once the changes counted since its last analyse exceed twice its rows
  (slow drift). An ordinary night changes 1-2 % of the 13 M-row state tables; sampling them again cost
  1.6 s each and moved no estimate a later model relies on.

  Tonight's changes are read from pg_stat_xact_all_tables (this transaction). The count since the
  last analyse (pg_stat_all_tables.n_mod_since_analyze) also holds the changes of the transaction
  that ran it - PostgreSQL adds them at its commit, after the reset; a whole table after its first
  build - so it serves only as the drift bound. A model whose next reads need the night's own values
  in its statistics sets `meta: {analyze: always}`; a server that does not count changes
  (track_counts off) analyses every time.
-#}
{% macro analyze_if_stale() %}
    {%- set rel = this.include(database=false) -%}
    {%- if (config.get('meta') or {}).get('analyze') == 'always' -%}
analyze {{ rel }}
    {%- else -%}
do $$
declare
    tuples real := (select c.reltuples from pg_class as c where c.oid = '{{ rel }}'::regclass);
    analysed timestamptz := (select coalesce(s.last_analyze, s.last_autoanalyze) from pg_stat_all_tables as s
                             where s.relid = '{{ rel }}'::regclass);
    tonight bigint := coalesce((select x.n_tup_ins + x.n_tup_upd + x.n_tup_del from pg_stat_xact_all_tables as x
                                where x.relid = '{{ rel }}'::regclass), 0);
    counted bigint := coalesce((select s.n_mod_since_analyze from pg_stat_all_tables as s
                                where s.relid = '{{ rel }}'::regclass), 0);
begin
    if current_setting('track_counts') = 'off' or analysed is null or tonight > 50 + 0.1 * tuples
       or counted > 2 * tuples then
        execute 'analyze {{ rel }}';
    end if;
end $$
    {%- endif -%}
{% endmacro %}
