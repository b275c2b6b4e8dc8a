package castlegate;

import java.io.File;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.gephi.graph.api.Column;
import org.gephi.graph.api.GraphController;
import org.gephi.graph.api.GraphModel;
import org.gephi.graph.api.Interval;
import org.gephi.io.importer.api.Container;
import org.gephi.io.importer.api.ImportController;
import org.gephi.io.importer.api.Issue;
import org.gephi.io.processor.plugin.DefaultProcessor;
import org.gephi.project.api.ProjectController;
import org.gephi.project.api.Workspace;
import org.openide.util.Lookup;

/**
 * Imports GEXF or GraphML files with Gephi's own importers, each into a new project, the
 * way Gephi's File > Open does, and prints what Gephi made of each as one JSON line on
 * stdout (several files share one JVM start, which is most of the time taken):
 * node and edge counts, the node and edge attribute columns, whether the graph is dynamic
 * and its time bounds, and the importer's issues (warnings Gephi would show the user).
 */
public final class GephiCheck {

    public static void main(String[] args) throws Exception {
        for (String path : args) {
            System.out.println(check(new File(path)));
        }
        System.exit(0);  // the toolkit leaves non-daemon threads behind
    }

    private static String check(File file) {
        ProjectController pc = Lookup.getDefault().lookup(ProjectController.class);
        if (pc.getCurrentProject() != null) {
            pc.closeCurrentProject();
        }
        pc.newProject();
        Workspace workspace = pc.getCurrentWorkspace();
        ImportController importer = Lookup.getDefault().lookup(ImportController.class);
        Container container;
        try {
            container = importer.importFile(file);
        } catch (java.io.FileNotFoundException e) {
            return "{\"file\": \"" + esc(file.getName()) + "\", \"error\": \"not found\"}";
        }
        if (container == null) {
            return "{\"file\": \"" + esc(file.getName()) + "\", \"error\": \"no importer accepted it\"}";
        }
        List<String> issues = new ArrayList<>();
        for (Iterator<Issue> it = container.getReport().getIssues(1000); it.hasNext(); ) {
            Issue issue = it.next();
            issues.add(issue.getLevel() + ": " + issue.getMessage());
        }
        importer.process(container, new DefaultProcessor(), workspace);
        GraphModel model = Lookup.getDefault().lookup(GraphController.class).getGraphModel(workspace);

        StringBuilder out = new StringBuilder("{");
        out.append("\"file\": \"").append(esc(file.getName())).append("\", ");
        out.append("\"nodes\": ").append(model.getGraph().getNodeCount());
        out.append(", \"edges\": ").append(model.getGraph().getEdgeCount());
        out.append(", \"edge_types\": ").append(strings(edgeTypes(model)));
        out.append(", \"directed\": ").append(model.isDirected());
        out.append(", \"node_columns\": ").append(strings(columns(model.getNodeTable())));
        out.append(", \"edge_columns\": ").append(strings(columns(model.getEdgeTable())));
        out.append(", \"dynamic\": ").append(model.isDynamic());
        out.append(", \"time_representation\": \"").append(model.getConfiguration().getTimeRepresentation()).append('"');
        Interval bounds = model.getTimeBounds();
        boolean hasInterval = bounds != null && !Double.isInfinite(bounds.getLow()) && !Double.isInfinite(bounds.getHigh());
        out.append(", \"has_interval\": ").append(hasInterval);
        out.append(", \"time_bounds\": ");
        out.append(hasInterval ? "[" + bounds.getLow() + ", " + bounds.getHigh() + "]" : "null");
        out.append(", \"issues\": ").append(strings(issues));
        out.append("}");
        return out.toString();
    }

    private static List<String> columns(org.gephi.graph.api.Table table) {
        List<String> names = new ArrayList<>();
        for (Column c : table) {
            names.add(c.getId() + ":" + c.getTypeClass().getSimpleName());
        }
        return names;
    }

    private static List<String> edgeTypes(GraphModel model) {
        List<String> types = new ArrayList<>();
        for (Object label : model.getEdgeTypeLabels()) {
            types.add(String.valueOf(label));
        }
        return types;
    }

    private static String strings(List<String> items) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < items.size(); i++) {
            b.append(i == 0 ? "\"" : ", \"").append(esc(items.get(i))).append('"');
        }
        return b.append(']').toString();
    }

    private static String esc(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
